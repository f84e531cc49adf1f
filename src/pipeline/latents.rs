//! The initial latents of each mode, drawn from the call's generator in diffusers' order.

use crate::rng::{Generator, NoiseSource, NumpyRandomState, TorchGenerator};

/// The call's generator: the initial draws come first, then each stochastic step's noise.
pub(crate) fn generator(kind: Generator, seed: u64) -> Box<dyn NoiseSource> {
    match kind {
        Generator::Numpy => Box::new(NumpyRandomState::new(seed as u32)),
        Generator::Torch => Box::new(TorchGenerator::new(seed)),
    }
}

/// Text-to-image: `randn(count, C, h, w) * init_noise_sigma`, one draw for the whole batch.
pub(crate) fn noise(rng: &mut dyn NoiseSource, len: usize, init_noise_sigma: f32) -> Vec<f32> {
    rng.randn(len)
        .into_iter()
        .map(|x| x * init_noise_sigma)
        .collect()
}
