//! diffusers' `PNDMScheduler`: pseudo numerical methods (Runge-Kutta warm-up, then linear
//! multistep), including `skip_prk_steps`, `set_alpha_to_one`, `steps_offset`, all three
//! timestep spacings, and epsilon / v-prediction models.

use super::alphas::{final_alpha_cumprod, AlphaSchedule};
use super::schedule::StepRule;
use super::{BetaDefaults, PredictionType, SchedulerConfig, TimestepSpacing};
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// PNDM state for one generation.
pub struct Pndm {
    /// The PRK timesteps (when not skipped), then the PLMS ones.
    schedule: AlphaSchedule,
    final_alpha_cumprod: f32,
    prediction: PredictionType,
    skip_prk: bool,
    /// `num_train_timesteps // num_inference_steps`.
    step_ratio: i64,
    prk_timesteps: Vec<i64>,
    ets: Vec<Vec<f32>>,
    counter: usize,
    cur_model_output: Option<Vec<f32>>,
    cur_sample: Option<Vec<f32>>,
}

/// The base timesteps `_timesteps` of `set_timesteps`, ascending.
fn base_timesteps(config: &SchedulerConfig, steps: usize) -> Result<Vec<i64>> {
    let t = config.num_train_timesteps()?;
    let steps_offset = config.usize_or("steps_offset", 0)?;
    let v: Vec<i64> = match config.timestep_spacing(TimestepSpacing::Leading)? {
        TimestepSpacing::Linspace => {
            let stop = (t - 1) as f64;
            let delta = if steps > 1 {
                stop / (steps - 1) as f64
            } else {
                0.0
            };
            (0..steps)
                .map(|i| {
                    // np.linspace sets the last element to `stop` exactly.
                    let x = if i + 1 == steps && steps > 1 {
                        stop
                    } else {
                        i as f64 * delta
                    };
                    x.round_ties_even() as i64
                })
                .collect()
        }
        TimestepSpacing::Leading => {
            let ratio = (t / steps) as i64;
            (0..steps as i64)
                .map(|i| i * ratio + steps_offset as i64)
                .collect()
        }
        TimestepSpacing::Trailing => {
            let ratio = t as f64 / steps as f64;
            let mut v = Vec::new();
            let mut i = 0usize;
            loop {
                let x = t as f64 - i as f64 * ratio;
                if x <= 0.0 {
                    break;
                }
                v.push(x.round_ties_even() as i64 - 1);
                i += 1;
            }
            v.reverse();
            v
        }
    };
    if let Some(&last) = v.last() {
        if last >= t as i64 || v.iter().any(|&x| x < 0) {
            return Err(Error::invalid(format!(
                "{steps} steps with steps_offset {steps_offset} give timestep {last}, outside 0..{t}"
            )));
        }
    }
    Ok(v)
}

impl Pndm {
    /// `PNDMScheduler.from_config(config)` followed by `set_timesteps(steps)`.
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<Pndm> {
        let alphas_cumprod = config.alphas_cumprod(BetaDefaults::LINEAR)?;
        let skip_prk = config.bool_or("skip_prk_steps", false)?;
        let prediction = config.prediction_type()?;
        if prediction == PredictionType::Sample {
            return Err(Error::unsupported(
                "PNDM supports prediction_type epsilon and v_prediction, not sample",
            ));
        }
        let final_alpha_cumprod = final_alpha_cumprod(config, false, &alphas_cumprod)?;
        let base = base_timesteps(config, steps)?;
        let step_ratio = (config.num_train_timesteps()? / steps) as i64;
        let (prk, plms): (Vec<i64>, Vec<i64>) = if skip_prk {
            // concat(_timesteps[:-1], _timesteps[-2:-1], _timesteps[-1:])[::-1]
            let n = base.len();
            let mut v: Vec<i64> = base[..n.saturating_sub(1)].to_vec();
            if n >= 2 {
                v.push(base[n - 2]);
            }
            v.extend_from_slice(&base[n.saturating_sub(1)..]);
            v.reverse();
            (Vec::new(), v)
        } else {
            // prk = _timesteps[-4:].repeat(2) + tile([0, ratio // 2], 4)
            let order = 4usize;
            let tail = &base[base.len().saturating_sub(order)..];
            let half = step_ratio / 2;
            let mut rep: Vec<i64> = Vec::new();
            for (j, &x) in tail.iter().flat_map(|x| [x, x]).enumerate() {
                rep.push(x + if j % 2 == 1 { half } else { 0 });
            }
            // (prk[:-1].repeat(2)[1:-1])[::-1]
            let mut prk: Vec<i64> = rep[..rep.len().saturating_sub(1)]
                .iter()
                .flat_map(|&x| [x, x])
                .collect();
            if prk.len() >= 2 {
                prk = prk[1..prk.len() - 1].to_vec();
            } else {
                prk.clear();
            }
            prk.reverse();
            let mut plms = base[..base.len().saturating_sub(3)].to_vec();
            plms.reverse();
            (prk, plms)
        };
        let timesteps = prk.iter().chain(plms.iter()).copied().collect();
        Ok(Pndm {
            schedule: AlphaSchedule::new(alphas_cumprod, timesteps),
            final_alpha_cumprod,
            prediction,
            skip_prk,
            step_ratio,
            prk_timesteps: prk,
            ets: Vec::new(),
            counter: 0,
            cur_model_output: None,
            cur_sample: None,
        })
    }

    fn alpha(&self, t: i64) -> f32 {
        self.schedule.alpha_or(t, self.final_alpha_cumprod)
    }

    /// `_get_prev_sample`, in float32 as torch evaluates it.
    fn prev_sample(
        &self,
        sample: &[f32],
        timestep: i64,
        prev_timestep: i64,
        model_output: &[f32],
        out: &mut [f32],
    ) -> Result<()> {
        if timestep < 0 || timestep as usize >= self.schedule.train_len() {
            return Err(Error::new(
                crate::ErrorKind::Internal,
                format!("PNDM timestep {timestep} out of range"),
            ));
        }
        let a_t = self.alpha(timestep);
        let a_prev = self.alpha(prev_timestep);
        let b_t = 1.0 - a_t;
        let b_prev = 1.0 - a_prev;
        let sample_coeff = (a_prev / a_t).sqrt();
        let denom = a_t * b_prev.sqrt() + (a_t * b_t * a_prev).sqrt();
        let diff = a_prev - a_t;
        let v = self.prediction == PredictionType::VPrediction;
        let (sa, sb) = (a_t.sqrt(), b_t.sqrt());
        for ((o, &s), &m) in out.iter_mut().zip(sample).zip(model_output) {
            let m = if v { sa * m + sb * s } else { m };
            *o = sample_coeff * s - diff * m / denom;
        }
        Ok(())
    }

    fn step_prk(&mut self, model_output: &[f32], timestep: i64, sample: &mut [f32]) -> Result<()> {
        let half = self.step_ratio / 2;
        let diff_to_prev = if self.counter % 2 == 1 { 0 } else { half };
        let prev_timestep = timestep - diff_to_prev;
        let timestep = self.prk_timesteps[self.counter / 4 * 4];
        let sixth = (1.0f64 / 6.0) as f32;
        let third = (1.0f64 / 3.0) as f32;
        let combined: Vec<f32>;
        let mo: &[f32] = match self.counter % 4 {
            0 => {
                accumulate(&mut self.cur_model_output, model_output, sixth);
                self.ets.push(model_output.to_vec());
                self.cur_sample = Some(sample.to_vec());
                model_output
            }
            1 | 2 => {
                accumulate(&mut self.cur_model_output, model_output, third);
                model_output
            }
            _ => {
                let cur = self.cur_model_output.take();
                combined = match cur {
                    Some(c) => c
                        .iter()
                        .zip(model_output)
                        .map(|(&c, &m)| c + sixth * m)
                        .collect(),
                    None => model_output.iter().map(|&m| sixth * m).collect(),
                };
                &combined
            }
        };
        let cur_sample = self.cur_sample.clone().unwrap_or_else(|| sample.to_vec());
        self.prev_sample(&cur_sample, timestep, prev_timestep, mo, sample)?;
        self.counter += 1;
        Ok(())
    }

    fn step_plms(&mut self, model_output: &[f32], timestep: i64, sample: &mut [f32]) -> Result<()> {
        let mut timestep = timestep;
        let mut prev_timestep = timestep - self.step_ratio;
        if self.counter != 1 {
            let keep = self.ets.len().saturating_sub(3);
            self.ets.drain(..keep);
            self.ets.push(model_output.to_vec());
        } else {
            prev_timestep = timestep;
            timestep += self.step_ratio;
        }
        let n = self.ets.len();
        let e = |k: usize| &self.ets[n - k];
        let mo: Vec<f32> = if n == 1 && self.counter == 0 {
            self.cur_sample = Some(sample.to_vec());
            model_output.to_vec()
        } else if n == 1 && self.counter == 1 {
            let mo: Vec<f32> = model_output
                .iter()
                .zip(e(1))
                .map(|(&m, &e1)| (m + e1) / 2.0)
                .collect();
            if let Some(cur) = self.cur_sample.take() {
                sample.copy_from_slice(&cur);
            }
            mo
        } else if n == 2 {
            e(1).iter()
                .zip(e(2))
                .map(|(&a, &b)| (3.0 * a - b) / 2.0)
                .collect()
        } else if n == 3 {
            e(1).iter()
                .zip(e(2))
                .zip(e(3))
                .map(|((&a, &b), &c)| (23.0 * a - 16.0 * b + 5.0 * c) / 12.0)
                .collect()
        } else {
            let k = (1.0f64 / 24.0) as f32;
            e(1).iter()
                .zip(e(2))
                .zip(e(3))
                .zip(e(4))
                .map(|(((&a, &b), &c), &d)| k * (55.0 * a - 59.0 * b + 37.0 * c - 9.0 * d))
                .collect()
        };
        let input = sample.to_vec();
        self.prev_sample(&input, timestep, prev_timestep, &mo, sample)?;
        self.counter += 1;
        Ok(())
    }
}

fn accumulate(acc: &mut Option<Vec<f32>>, x: &[f32], k: f32) {
    match acc {
        Some(a) => a.iter_mut().zip(x).for_each(|(a, &x)| *a += k * x),
        None => *acc = Some(x.iter().map(|&x| k * x).collect()),
    }
}

impl StepRule for Pndm {
    type Schedule = AlphaSchedule;

    fn schedule(&self) -> &AlphaSchedule {
        &self.schedule
    }

    fn schedule_mut(&mut self) -> &mut AlphaSchedule {
        &mut self.schedule
    }

    fn step(
        &mut self,
        model_output: &[f32],
        i: usize,
        sample: &mut [f32],
        _noise: &mut dyn NoiseSource,
    ) -> Result<()> {
        let t = self.schedule.t(i);
        if self.counter < self.prk_timesteps.len() && !self.skip_prk {
            self.step_prk(model_output, t, sample)
        } else {
            self.step_plms(model_output, t, sample)
        }
    }
}
