//! Every C enumeration of `include/sdrt.h` next to the Rust value each constant stands for:
//! one table per enumeration, read both ways (a caller's number to the engine's value, the
//! engine's value to the number sdrt reports). The only place C enum numbers are converted.
//!
//! The enumerations themselves are declared with the structs that carry them (`params.rs`,
//! `pipeline.rs`, `runtime.rs`, `step.rs`, `image_view.rs`, `status.rs`), where the header
//! takes them from; their numbers never change. A value a table lacks is an unknown number
//! (`to_rust` gives `None`); the tests check that each table round-trips, covers every Rust
//! value and C constant, and has no duplicate C value.

use super::ep::{sdrt_ep_device, sdrt_ep_precision};
use super::image_view::sdrt_pixel_format;
use super::options::sdrt_provider;
use super::params::{
    sdrt_generator, sdrt_prediction_type, sdrt_prompt_weighting, sdrt_scheduler,
    sdrt_timestep_spacing,
};
use super::pipeline::sdrt_coreml_compute_units;
use super::runtime::sdrt_log_level;
use super::status::sdrt_status;
use super::step::sdrt_preview_kind;
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::{PreviewKind, PromptWeighting};
use crate::rng::Generator;
use crate::runtime::{CoreMlComputeUnits, EpDeviceChoice, EpPrecision, LogLevel, Provider};
use crate::scheduler::{PredictionType, SchedulerKind, TimestepSpacing};

/// A C enumeration: `#[repr(u32)]`, passed as a `uint32_t` field or argument.
pub(crate) trait CEnum: Copy + PartialEq {
    /// The constant's number.
    fn number(self) -> u32;
}

macro_rules! c_enums {
    ($($t:ty),+ $(,)?) => {
        $(impl CEnum for $t {
            fn number(self) -> u32 {
                self as u32
            }
        })+
    };
}

c_enums!(
    sdrt_status,
    sdrt_log_level,
    sdrt_provider,
    sdrt_coreml_compute_units,
    sdrt_ep_device,
    sdrt_ep_precision,
    sdrt_scheduler,
    sdrt_generator,
    sdrt_prediction_type,
    sdrt_timestep_spacing,
    sdrt_pixel_format,
    sdrt_preview_kind,
    sdrt_prompt_weighting,
);

/// One C enumeration's constants, each with the Rust value it stands for.
pub(crate) struct Table<C: 'static, R: 'static> {
    pairs: &'static [(C, R)],
}

impl<C: CEnum, R: Copy + PartialEq> Table<C, R> {
    /// The constant numbered `v`, `None` for a number the enumeration lacks.
    pub(crate) fn constant(&self, v: u32) -> Option<C> {
        self.pairs
            .iter()
            .find(|(c, _)| c.number() == v)
            .map(|&(c, _)| c)
    }

    /// The Rust value of the constant numbered `v`, `None` for a number the enumeration lacks.
    pub(crate) fn to_rust(&self, v: u32) -> Option<R> {
        self.pairs
            .iter()
            .find(|(c, _)| c.number() == v)
            .map(|&(_, r)| r)
    }

    /// The Rust value of the number a caller put in `field`; an unknown number is
    /// `InvalidArgument`, "`field`: unknown `what` `v`".
    pub(crate) fn read(&self, v: u32, field: &str, what: &str) -> Result<R> {
        self.to_rust(v)
            .ok_or_else(|| Error::invalid(format!("{field}: unknown {what} {v}")))
    }

    /// The constant standing for `r`.
    pub(crate) fn constant_for(&self, r: R) -> Option<C> {
        self.pairs.iter().find(|(_, x)| *x == r).map(|&(c, _)| c)
    }

    /// The number of the constant standing for `r`. Every Rust value has one (the tests check
    /// it); 0, each enumeration's default, would stand in for one that had none.
    pub(crate) fn to_c(&self, r: R) -> u32 {
        self.constant_for(r).map_or(0, CEnum::number)
    }
}

/// `sdrt_status`: `None` is success.
pub(crate) const STATUS: Table<sdrt_status, Option<ErrorKind>> = {
    use sdrt_status as S;
    Table {
        pairs: &[
            (S::SDRT_OK, None),
            (
                S::SDRT_ERROR_INVALID_ARGUMENT,
                Some(ErrorKind::InvalidArgument),
            ),
            (
                S::SDRT_ERROR_RUNTIME_UNAVAILABLE,
                Some(ErrorKind::RuntimeUnavailable),
            ),
            (
                S::SDRT_ERROR_ALREADY_INITIALIZED,
                Some(ErrorKind::AlreadyInitialized),
            ),
            (
                S::SDRT_ERROR_MODEL_NOT_FOUND,
                Some(ErrorKind::ModelNotFound),
            ),
            (S::SDRT_ERROR_MODEL_INVALID, Some(ErrorKind::ModelInvalid)),
            (
                S::SDRT_ERROR_PROVIDER_UNAVAILABLE,
                Some(ErrorKind::ProviderUnavailable),
            ),
            (S::SDRT_ERROR_INFERENCE, Some(ErrorKind::Inference)),
            (S::SDRT_ERROR_CANCELLED, Some(ErrorKind::Cancelled)),
            (S::SDRT_ERROR_UNSUPPORTED, Some(ErrorKind::Unsupported)),
            (S::SDRT_ERROR_IO, Some(ErrorKind::Io)),
            (S::SDRT_ERROR_INTERNAL, Some(ErrorKind::Internal)),
        ],
    }
};

/// `sdrt_log_level`.
pub(crate) const LOG_LEVEL: Table<sdrt_log_level, LogLevel> = {
    use sdrt_log_level as L;
    Table {
        pairs: &[
            (L::SDRT_LOG_OFF, LogLevel::Off),
            (L::SDRT_LOG_ERROR, LogLevel::Error),
            (L::SDRT_LOG_WARN, LogLevel::Warn),
            (L::SDRT_LOG_INFO, LogLevel::Info),
            (L::SDRT_LOG_DEBUG, LogLevel::Debug),
        ],
    }
};

/// `sdrt_provider`.
pub(crate) const PROVIDER: Table<sdrt_provider, Provider> = {
    use sdrt_provider as P;
    Table {
        pairs: &[
            (P::SDRT_PROVIDER_AUTO, Provider::Auto),
            (P::SDRT_PROVIDER_CPU, Provider::Cpu),
            (P::SDRT_PROVIDER_COREML, Provider::CoreMl),
            (P::SDRT_PROVIDER_CUDA, Provider::Cuda),
            (P::SDRT_PROVIDER_OPENVINO, Provider::OpenVino),
            (P::SDRT_PROVIDER_PLUGIN, Provider::PluginEp),
        ],
    }
};

/// `sdrt_ep_device`.
pub(crate) const EP_DEVICE: Table<sdrt_ep_device, EpDeviceChoice> = {
    use sdrt_ep_device as D;
    Table {
        pairs: &[
            (D::SDRT_EP_DEVICE_DEFAULT, EpDeviceChoice::Default),
            (D::SDRT_EP_DEVICE_CPU, EpDeviceChoice::Cpu),
            (D::SDRT_EP_DEVICE_GPU, EpDeviceChoice::Gpu),
            (D::SDRT_EP_DEVICE_NPU, EpDeviceChoice::Npu),
            (D::SDRT_EP_DEVICE_AUTO, EpDeviceChoice::Auto),
        ],
    }
};

/// `sdrt_ep_precision`.
pub(crate) const EP_PRECISION: Table<sdrt_ep_precision, EpPrecision> = {
    use sdrt_ep_precision as E;
    Table {
        pairs: &[
            (E::SDRT_EP_PRECISION_AUTO, EpPrecision::Auto),
            (E::SDRT_EP_PRECISION_F32, EpPrecision::F32),
            (E::SDRT_EP_PRECISION_BF16, EpPrecision::Bf16),
            (E::SDRT_EP_PRECISION_F16, EpPrecision::F16),
        ],
    }
};

/// `sdrt_coreml_compute_units`.
pub(crate) const COREML_COMPUTE_UNITS: Table<sdrt_coreml_compute_units, CoreMlComputeUnits> = {
    use sdrt_coreml_compute_units as U;
    Table {
        pairs: &[
            (U::SDRT_COREML_ALL, CoreMlComputeUnits::All),
            (U::SDRT_COREML_CPU_AND_GPU, CoreMlComputeUnits::CpuAndGpu),
            (
                U::SDRT_COREML_CPU_AND_NEURAL_ENGINE,
                CoreMlComputeUnits::CpuAndNeuralEngine,
            ),
            (U::SDRT_COREML_CPU_ONLY, CoreMlComputeUnits::CpuOnly),
        ],
    }
};

/// `sdrt_scheduler`: `None` is the model's own (`SDRT_SCHEDULER_DEFAULT`).
pub(crate) const SCHEDULER: Table<sdrt_scheduler, Option<SchedulerKind>> = {
    use sdrt_scheduler as S;
    use SchedulerKind as K;
    Table {
        pairs: &[
            (S::SDRT_SCHEDULER_DEFAULT, None),
            (S::SDRT_SCHEDULER_PNDM, Some(K::Pndm)),
            (S::SDRT_SCHEDULER_DDIM, Some(K::Ddim)),
            (S::SDRT_SCHEDULER_EULER, Some(K::Euler)),
            (S::SDRT_SCHEDULER_EULER_ANCESTRAL, Some(K::EulerAncestral)),
            (S::SDRT_SCHEDULER_DPMPP_2M, Some(K::DpmPp2m)),
            (S::SDRT_SCHEDULER_DPMPP_2M_KARRAS, Some(K::DpmPp2mKarras)),
            (S::SDRT_SCHEDULER_DPMPP_2M_SDE, Some(K::DpmPp2mSde)),
            (S::SDRT_SCHEDULER_LMS, Some(K::Lms)),
            (S::SDRT_SCHEDULER_HEUN, Some(K::Heun)),
            (S::SDRT_SCHEDULER_UNIPC, Some(K::UniPc)),
            (S::SDRT_SCHEDULER_LCM, Some(K::Lcm)),
            (S::SDRT_SCHEDULER_DDPM, Some(K::Ddpm)),
        ],
    }
};

/// `sdrt_generator`.
pub(crate) const GENERATOR: Table<sdrt_generator, Generator> = Table {
    pairs: &[
        (sdrt_generator::SDRT_GENERATOR_NUMPY, Generator::Numpy),
        (sdrt_generator::SDRT_GENERATOR_TORCH, Generator::Torch),
        (
            sdrt_generator::SDRT_GENERATOR_TORCH_CUDA,
            Generator::TorchCuda,
        ),
    ],
};

/// `sdrt_prediction_type`: `None` is the model config's (`SDRT_PREDICTION_DEFAULT`).
pub(crate) const PREDICTION_TYPE: Table<sdrt_prediction_type, Option<PredictionType>> = {
    use sdrt_prediction_type as P;
    Table {
        pairs: &[
            (P::SDRT_PREDICTION_DEFAULT, None),
            (P::SDRT_PREDICTION_EPSILON, Some(PredictionType::Epsilon)),
            (P::SDRT_PREDICTION_V, Some(PredictionType::VPrediction)),
            (P::SDRT_PREDICTION_SAMPLE, Some(PredictionType::Sample)),
        ],
    }
};

/// `sdrt_timestep_spacing`: `None` is the model config's (`SDRT_TIMESTEP_SPACING_DEFAULT`).
pub(crate) const TIMESTEP_SPACING: Table<sdrt_timestep_spacing, Option<TimestepSpacing>> = {
    use sdrt_timestep_spacing as T;
    Table {
        pairs: &[
            (T::SDRT_TIMESTEP_SPACING_DEFAULT, None),
            (
                T::SDRT_TIMESTEP_SPACING_LEADING,
                Some(TimestepSpacing::Leading),
            ),
            (
                T::SDRT_TIMESTEP_SPACING_TRAILING,
                Some(TimestepSpacing::Trailing),
            ),
            (
                T::SDRT_TIMESTEP_SPACING_LINSPACE,
                Some(TimestepSpacing::Linspace),
            ),
        ],
    }
};

/// `sdrt_preview_kind`.
pub(crate) const PREVIEW_KIND: Table<sdrt_preview_kind, PreviewKind> = {
    use sdrt_preview_kind as K;
    Table {
        pairs: &[
            (K::SDRT_PREVIEW_NONE, PreviewKind::None),
            (K::SDRT_PREVIEW_LATENT_RGB, PreviewKind::LatentRgb),
            (K::SDRT_PREVIEW_TAESD, PreviewKind::Taesd),
            (K::SDRT_PREVIEW_FULL, PreviewKind::Full),
        ],
    }
};

/// `sdrt_prompt_weighting`.
pub(crate) const PROMPT_WEIGHTING: Table<sdrt_prompt_weighting, PromptWeighting> = {
    use sdrt_prompt_weighting as W;
    Table {
        pairs: &[
            (W::SDRT_PROMPT_WEIGHTING_NONE, PromptWeighting::None),
            (W::SDRT_PROMPT_WEIGHTING_A1111, PromptWeighting::A1111),
        ],
    }
};

/// `sdrt_pixel_format`: the engine has no type of its own for it, so each constant stands for
/// itself (`SDRT_PIXEL_FORMAT_DEFAULT` is resolved per field by the reader).
pub(crate) const PIXEL_FORMAT: Table<sdrt_pixel_format, sdrt_pixel_format> = {
    use sdrt_pixel_format as F;
    Table {
        pairs: &[
            (F::SDRT_PIXEL_FORMAT_DEFAULT, F::SDRT_PIXEL_FORMAT_DEFAULT),
            (F::SDRT_PIXEL_FORMAT_RGB8, F::SDRT_PIXEL_FORMAT_RGB8),
            (F::SDRT_PIXEL_FORMAT_RGBA8, F::SDRT_PIXEL_FORMAT_RGBA8),
            (F::SDRT_PIXEL_FORMAT_GRAY8, F::SDRT_PIXEL_FORMAT_GRAY8),
        ],
    }
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Debug;

    /// Every variant of an enum, listed once: the match fails to compile when the enum gains
    /// a variant this list lacks.
    macro_rules! every {
        ($t:ident: $($v:ident),+ $(,)?) => {{
            #[allow(dead_code)]
            fn exhaustive(x: $t) {
                match x {
                    $($t::$v => {})+
                }
            }
            vec![$($t::$v),+]
        }};
    }

    /// `None` and `Some` of each value.
    fn optional<T: Copy>(values: Vec<T>) -> Vec<Option<T>> {
        std::iter::once(None)
            .chain(values.into_iter().map(Some))
            .collect()
    }

    /// `table` has each of `constants` once (so no C number twice), each of `values` once, and
    /// reads the same both ways; numbers it lacks are unknown.
    fn check<C: CEnum + Debug, R: Copy + PartialEq + Debug>(
        name: &str,
        table: &Table<C, R>,
        constants: &[C],
        values: &[R],
    ) {
        assert_eq!(table.pairs.len(), constants.len(), "{name}: constants");
        assert_eq!(table.pairs.len(), values.len(), "{name}: Rust values");
        for c in constants {
            let n = table.pairs.iter().filter(|(x, _)| x == c).count();
            assert_eq!(n, 1, "{name}: {c:?} is in the table {n} times");
            let same = constants
                .iter()
                .filter(|x| x.number() == c.number())
                .count();
            assert_eq!(same, 1, "{name}: C value {} is used twice", c.number());
        }
        for r in values {
            let n = table.pairs.iter().filter(|(_, x)| x == r).count();
            assert_eq!(n, 1, "{name}: {r:?} is in the table {n} times");
        }
        for &(c, r) in table.pairs {
            assert_eq!(table.to_rust(c.number()), Some(r), "{name}: {c:?}");
            assert_eq!(table.constant(c.number()), Some(c), "{name}: {c:?}");
            assert_eq!(table.to_c(r), c.number(), "{name}: {r:?}");
            assert_eq!(table.constant_for(r), Some(c), "{name}: {r:?}");
        }
        let past = constants.iter().map(|c| c.number()).max().unwrap_or(0) + 1;
        for unknown in [past, u32::MAX] {
            assert_eq!(table.to_rust(unknown), None, "{name}: {unknown}");
        }
    }

    #[test]
    fn every_table_covers_its_enums_and_round_trips() {
        check(
            "sdrt_status",
            &STATUS,
            &every!(
                sdrt_status: SDRT_OK,
                SDRT_ERROR_INVALID_ARGUMENT,
                SDRT_ERROR_RUNTIME_UNAVAILABLE,
                SDRT_ERROR_ALREADY_INITIALIZED,
                SDRT_ERROR_MODEL_NOT_FOUND,
                SDRT_ERROR_MODEL_INVALID,
                SDRT_ERROR_PROVIDER_UNAVAILABLE,
                SDRT_ERROR_INFERENCE,
                SDRT_ERROR_CANCELLED,
                SDRT_ERROR_UNSUPPORTED,
                SDRT_ERROR_IO,
                SDRT_ERROR_INTERNAL,
            ),
            &optional(every!(
                ErrorKind: InvalidArgument,
                RuntimeUnavailable,
                AlreadyInitialized,
                ModelNotFound,
                ModelInvalid,
                ProviderUnavailable,
                Inference,
                Cancelled,
                Unsupported,
                Io,
                Internal,
            )),
        );
        check(
            "sdrt_log_level",
            &LOG_LEVEL,
            &every!(
                sdrt_log_level: SDRT_LOG_OFF,
                SDRT_LOG_ERROR,
                SDRT_LOG_WARN,
                SDRT_LOG_INFO,
                SDRT_LOG_DEBUG,
            ),
            &every!(LogLevel: Off, Error, Warn, Info, Debug),
        );
        check(
            "sdrt_provider",
            &PROVIDER,
            &every!(
                sdrt_provider: SDRT_PROVIDER_AUTO,
                SDRT_PROVIDER_CPU,
                SDRT_PROVIDER_COREML,
                SDRT_PROVIDER_CUDA,
                SDRT_PROVIDER_OPENVINO,
                SDRT_PROVIDER_PLUGIN,
            ),
            &every!(Provider: Auto, Cpu, CoreMl, Cuda, OpenVino, PluginEp),
        );
        check(
            "sdrt_ep_device",
            &EP_DEVICE,
            &every!(
                sdrt_ep_device: SDRT_EP_DEVICE_DEFAULT,
                SDRT_EP_DEVICE_CPU,
                SDRT_EP_DEVICE_GPU,
                SDRT_EP_DEVICE_NPU,
                SDRT_EP_DEVICE_AUTO,
            ),
            &every!(EpDeviceChoice: Default, Cpu, Gpu, Npu, Auto),
        );
        check(
            "sdrt_ep_precision",
            &EP_PRECISION,
            &every!(
                sdrt_ep_precision: SDRT_EP_PRECISION_AUTO,
                SDRT_EP_PRECISION_F32,
                SDRT_EP_PRECISION_BF16,
                SDRT_EP_PRECISION_F16,
            ),
            &every!(EpPrecision: Auto, F32, Bf16, F16),
        );
        check(
            "sdrt_coreml_compute_units",
            &COREML_COMPUTE_UNITS,
            &every!(
                sdrt_coreml_compute_units: SDRT_COREML_ALL,
                SDRT_COREML_CPU_AND_GPU,
                SDRT_COREML_CPU_AND_NEURAL_ENGINE,
                SDRT_COREML_CPU_ONLY,
            ),
            &every!(CoreMlComputeUnits: All, CpuAndGpu, CpuAndNeuralEngine, CpuOnly),
        );
        let schedulers = every!(
            SchedulerKind: Pndm,
            Ddim,
            Euler,
            EulerAncestral,
            DpmPp2m,
            DpmPp2mKarras,
            DpmPp2mSde,
            Lms,
            Heun,
            UniPc,
            Lcm,
            Ddpm,
        );
        check(
            "sdrt_scheduler",
            &SCHEDULER,
            &every!(
                sdrt_scheduler: SDRT_SCHEDULER_DEFAULT,
                SDRT_SCHEDULER_PNDM,
                SDRT_SCHEDULER_DDIM,
                SDRT_SCHEDULER_EULER,
                SDRT_SCHEDULER_EULER_ANCESTRAL,
                SDRT_SCHEDULER_DPMPP_2M,
                SDRT_SCHEDULER_DPMPP_2M_KARRAS,
                SDRT_SCHEDULER_DPMPP_2M_SDE,
                SDRT_SCHEDULER_LMS,
                SDRT_SCHEDULER_HEUN,
                SDRT_SCHEDULER_UNIPC,
                SDRT_SCHEDULER_LCM,
                SDRT_SCHEDULER_DDPM,
            ),
            &optional(schedulers),
        );
        check(
            "sdrt_generator",
            &GENERATOR,
            &every!(
                sdrt_generator: SDRT_GENERATOR_NUMPY,
                SDRT_GENERATOR_TORCH,
                SDRT_GENERATOR_TORCH_CUDA
            ),
            &every!(Generator: Numpy, Torch, TorchCuda),
        );
        check(
            "sdrt_prediction_type",
            &PREDICTION_TYPE,
            &every!(
                sdrt_prediction_type: SDRT_PREDICTION_DEFAULT,
                SDRT_PREDICTION_EPSILON,
                SDRT_PREDICTION_V,
                SDRT_PREDICTION_SAMPLE,
            ),
            &optional(every!(PredictionType: Epsilon, VPrediction, Sample)),
        );
        check(
            "sdrt_timestep_spacing",
            &TIMESTEP_SPACING,
            &every!(
                sdrt_timestep_spacing: SDRT_TIMESTEP_SPACING_DEFAULT,
                SDRT_TIMESTEP_SPACING_LEADING,
                SDRT_TIMESTEP_SPACING_TRAILING,
                SDRT_TIMESTEP_SPACING_LINSPACE,
            ),
            &optional(every!(TimestepSpacing: Linspace, Leading, Trailing)),
        );
        check(
            "sdrt_preview_kind",
            &PREVIEW_KIND,
            &every!(
                sdrt_preview_kind: SDRT_PREVIEW_NONE,
                SDRT_PREVIEW_LATENT_RGB,
                SDRT_PREVIEW_TAESD,
                SDRT_PREVIEW_FULL,
            ),
            &every!(PreviewKind: None, LatentRgb, Taesd, Full),
        );
        let formats = every!(
            sdrt_pixel_format: SDRT_PIXEL_FORMAT_DEFAULT,
            SDRT_PIXEL_FORMAT_RGB8,
            SDRT_PIXEL_FORMAT_RGBA8,
            SDRT_PIXEL_FORMAT_GRAY8,
        );
        check("sdrt_pixel_format", &PIXEL_FORMAT, &formats, &formats);
        check(
            "sdrt_prompt_weighting",
            &PROMPT_WEIGHTING,
            &every!(
                sdrt_prompt_weighting: SDRT_PROMPT_WEIGHTING_NONE,
                SDRT_PROMPT_WEIGHTING_A1111,
            ),
            &every!(PromptWeighting: None, A1111),
        );
    }
}
