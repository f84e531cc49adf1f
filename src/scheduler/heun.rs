//! Not built yet: answers `Unsupported`.

use super::{Scheduler, SchedulerConfig};
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// Placeholder until the scheduler is built.
pub struct Heun;

impl Heun {
    /// Always `Unsupported` for now.
    #[allow(unused_variables)]
    pub fn new(config: &SchedulerConfig, steps: usize) -> Result<Heun> {
        Err(Error::unsupported(format!(
            "{} is not built yet",
            config.class_name()
        )))
    }
}

impl Scheduler for Heun {
    fn timesteps(&self) -> &[f64] {
        &[]
    }
    fn init_noise_sigma(&self) -> f32 {
        1.0
    }
    fn scale_model_input(&mut self, _sample: &mut [f32], _i: usize) {}
    fn step(
        &mut self,
        _o: &[f32],
        _i: usize,
        _s: &mut [f32],
        _n: &mut dyn NoiseSource,
    ) -> Result<()> {
        Err(Error::unsupported("not built yet"))
    }
}
