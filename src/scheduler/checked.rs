//! The wrapper around every scheduler [`create`](super::create) returns: the arguments checked
//! once, so that the implementations can index their tables directly.

use super::schedule::check_index;
use super::Scheduler;
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// Checks the arguments every scheduler relies on once, so the implementations can index
/// their tables by `i` directly.
pub(super) struct Checked(pub(super) Box<dyn Scheduler>);

impl Checked {
    fn check(&self, i: usize, lengths: Option<(usize, usize)>) -> Result<()> {
        check_index(i, self.0.timesteps().len())?;
        if let Some((output, sample)) = lengths {
            if output != sample {
                return Err(Error::invalid(format!(
                    "model output has {output} values, the sample {sample}"
                )));
            }
        }
        Ok(())
    }
}

impl Scheduler for Checked {
    fn timesteps(&self) -> &[f64] {
        self.0.timesteps()
    }

    fn init_noise_sigma(&self) -> f32 {
        self.0.init_noise_sigma()
    }

    fn scale_model_input(&mut self, sample: &mut [f32], i: usize) -> Result<()> {
        self.check(i, None)?;
        self.0.scale_model_input(sample, i)
    }

    fn step(
        &mut self,
        model_output: &[f32],
        i: usize,
        sample: &mut [f32],
        noise: &mut dyn NoiseSource,
    ) -> Result<()> {
        self.check(i, Some((model_output.len(), sample.len())))?;
        self.0.step(model_output, i, sample, noise)
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], i: usize) -> Vec<f32> {
        // The pipeline passes matching lengths and indices it got from `timesteps`; an index
        // past the end is clamped rather than trusted.
        let i = i.min(self.0.timesteps().len().saturating_sub(1));
        self.0.add_noise(original, noise, i)
    }

    fn alpha_bar(&self, i: usize) -> f64 {
        let i = i.min(self.0.timesteps().len().saturating_sub(1));
        self.0.alpha_bar(i)
    }

    fn order(&self) -> usize {
        self.0.order()
    }

    fn set_begin_index(&mut self, i: usize) {
        self.0.set_begin_index(i)
    }
}

#[cfg(test)]
mod tests {
    use crate::scheduler::{create, SchedulerConfig, SchedulerKind, SchedulerOverrides};
    use crate::ErrorKind;

    #[test]
    fn scale_model_input_fails_on_an_index_past_the_timesteps() {
        let config = SchedulerConfig::default();
        for kind in SchedulerKind::ALL {
            let mut s = create(kind, &config, 10, &SchedulerOverrides::default()).unwrap();
            let n = s.timesteps().len();
            for i in [n, n + 1, usize::MAX] {
                let mut sample = vec![1.5f32; 8];
                let err = s.scale_model_input(&mut sample, i).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{}", kind.name());
                let msg = err.message();
                assert!(
                    msg.contains(&i.to_string()) && msg.contains(&n.to_string()),
                    "{}: {msg}",
                    kind.name()
                );
                assert_eq!(sample, [1.5; 8], "{}: sample touched", kind.name());
            }
            let mut sample = vec![1.5f32; 8];
            s.scale_model_input(&mut sample, n - 1).unwrap();
        }
    }
}
