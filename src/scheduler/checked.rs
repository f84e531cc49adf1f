//! The wrapper every scheduler [`create`](super::create) returns is built in: the argument
//! checks done once, so that the implementations can index their tables directly.

use super::Scheduler;
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// Checks the arguments every scheduler relies on once, so the implementations can index
/// their tables by `i` directly.
pub(super) struct Checked(pub(super) Box<dyn Scheduler>);

impl Checked {
    fn check(&self, i: usize, lengths: Option<(usize, usize)>) -> Result<()> {
        let n = self.0.timesteps().len();
        if i >= n {
            return Err(Error::invalid(format!(
                "timestep index {i} out of range (the scheduler has {n})"
            )));
        }
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

    fn scale_model_input(&mut self, sample: &mut [f32], i: usize) {
        if self.check(i, None).is_ok() {
            self.0.scale_model_input(sample, i);
        }
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
