//! Random number generators that reproduce the reference implementations bit for bit.

mod cuda;
mod numpy;
mod torch;

pub use cuda::TorchCudaGenerator;
pub use numpy::NumpyRandomState;
pub use torch::TorchGenerator;

/// A stream of standard normals: the initial latents come first, then each stochastic
/// scheduler step's noise, in diffusers' order.
pub trait NoiseSource {
    /// The next `count` standard normals as float32, in C order of the tensor they fill. One
    /// call is one draw of the reference (`torch.randn(...)`): torch's generators depend on how
    /// the draws are split into calls.
    fn randn(&mut self, count: usize) -> Vec<f32>;
}

impl NoiseSource for NumpyRandomState {
    fn randn(&mut self, count: usize) -> Vec<f32> {
        self.randn_f32(count)
    }
}

/// Which generator draws the initial latents (and any per-step noise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Generator {
    /// `numpy.random.RandomState(seed).randn(...)`, float64 cast to float32; 32-bit seeds.
    #[default]
    Numpy,
    /// `torch.randn(..., generator=torch.Generator("cpu").manual_seed(seed))` in float32, as
    /// diffusers' pipelines draw with a CPU generator; 64-bit seeds.
    Torch,
    /// `torch.randn(..., generator=torch.Generator("cuda").manual_seed(seed), device="cuda")`
    /// in float32: torch's CUDA generator (Philox4x32-10, the GPU's Box-Muller), as diffusers'
    /// pipelines draw with a CUDA generator and A1111/Forge with their "GPU" seed; reproduced
    /// on the CPU as an NVIDIA H200 draws it (see [`TorchCudaGenerator`]); 64-bit seeds.
    TorchCuda,
}

impl Generator {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Generator::Numpy => "numpy",
            Generator::Torch => "torch",
            Generator::TorchCuda => "torch-cuda",
        }
    }

    /// Parses `numpy | torch | torch-cuda`.
    pub fn parse(s: &str) -> Option<Generator> {
        match s {
            "numpy" => Some(Generator::Numpy),
            "torch" => Some(Generator::Torch),
            "torch-cuda" => Some(Generator::TorchCuda),
            _ => None,
        }
    }
}

impl NoiseSource for TorchGenerator {
    fn randn(&mut self, count: usize) -> Vec<f32> {
        TorchGenerator::randn(self, count)
    }
}

impl NoiseSource for TorchCudaGenerator {
    fn randn(&mut self, count: usize) -> Vec<f32> {
        TorchCudaGenerator::randn(self, count)
    }
}
