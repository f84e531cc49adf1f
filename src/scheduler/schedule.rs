//! What every scheduler is made of: a schedule and a step rule over it.
//!
//! The schedule is what diffusers' `set_timesteps` builds and everything but `step` reads: the
//! timesteps, what each means for the noise level (`alphas_cumprod` or a sigma), hence
//! `init_noise_sigma`, `scale_model_input`, `add_noise` and `alpha_bar`, and the step counter
//! `set_begin_index` starts. Two kinds cover the ten schedulers:
//! - [`AlphaSchedule`](super::alphas::AlphaSchedule): integer training timesteps indexing
//!   `alphas_cumprod` (PNDM, DDIM, DDPM, LCM);
//! - [`SigmaSchedule`](super::sigmas::SigmaSchedule): one sigma per timestep plus the final
//!   one, read in k-diffusion's form (Euler, Euler ancestral, Heun, LMS) or the multistep
//!   solvers' (DPM-Solver, UniPC).
//!
//! A scheduler holds one and implements [`StepRule`]: its `step` (and `order`, for Heun). The
//! [`Scheduler`] impl is the same for all of them, below.

use super::Scheduler;
use crate::error::{Error, Result};
use crate::rng::NoiseSource;

/// The schedule half of [`Scheduler`]: everything but `step` and `order`, with the same
/// meaning.
pub(super) trait Schedule: Send {
    /// See [`Scheduler::timesteps`].
    fn timesteps(&self) -> &[f64];
    /// See [`Scheduler::init_noise_sigma`].
    fn init_noise_sigma(&self) -> f32;
    /// See [`Scheduler::scale_model_input`].
    fn scale_model_input(&mut self, sample: &mut [f32], i: usize) -> Result<()>;
    /// See [`Scheduler::add_noise`].
    fn add_noise(&self, original: &[f32], noise: &[f32], i: usize) -> Vec<f32>;
    /// See [`Scheduler::alpha_bar`].
    fn alpha_bar(&self, i: usize) -> f64;
    /// See [`Scheduler::set_begin_index`].
    fn set_begin_index(&mut self, i: usize);
}

/// A scheduler's own part: its step rule over the schedule it holds.
pub(super) trait StepRule: Send {
    /// The kind of schedule it steps over.
    type Schedule: Schedule;
    /// Its schedule.
    fn schedule(&self) -> &Self::Schedule;
    /// Its schedule, to count steps on.
    fn schedule_mut(&mut self) -> &mut Self::Schedule;
    /// See [`Scheduler::step`].
    fn step(
        &mut self,
        model_output: &[f32],
        i: usize,
        sample: &mut [f32],
        noise: &mut dyn NoiseSource,
    ) -> Result<()>;
    /// See [`Scheduler::order`].
    fn order(&self) -> usize {
        1
    }
}

impl<R: StepRule> Scheduler for R {
    fn timesteps(&self) -> &[f64] {
        self.schedule().timesteps()
    }

    fn init_noise_sigma(&self) -> f32 {
        self.schedule().init_noise_sigma()
    }

    fn scale_model_input(&mut self, sample: &mut [f32], i: usize) -> Result<()> {
        self.schedule_mut().scale_model_input(sample, i)
    }

    fn step(
        &mut self,
        model_output: &[f32],
        i: usize,
        sample: &mut [f32],
        noise: &mut dyn NoiseSource,
    ) -> Result<()> {
        StepRule::step(self, model_output, i, sample, noise)
    }

    fn add_noise(&self, original: &[f32], noise: &[f32], i: usize) -> Vec<f32> {
        self.schedule().add_noise(original, noise, i)
    }

    fn alpha_bar(&self, i: usize) -> f64 {
        self.schedule().alpha_bar(i)
    }

    fn order(&self) -> usize {
        StepRule::order(self)
    }

    fn set_begin_index(&mut self, i: usize) {
        self.schedule_mut().set_begin_index(i)
    }
}

/// Fails unless `i` indexes one of `n` timesteps (the evaluations of a schedule).
pub(super) fn check_index(i: usize, n: usize) -> Result<()> {
    if i >= n {
        return Err(Error::invalid(format!(
            "timestep index {i} out of range (the scheduler has {n})"
        )));
    }
    Ok(())
}
