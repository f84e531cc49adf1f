//! The stages of one generate call, in diffusers' order, under the pipeline's graph lock:
//! text conditioning (the family's), the mode's initial latents, the denoising loop with its
//! previews, the VAE decoder, the safety checker. In the low-memory mode each stage loads its
//! graph when it starts and frees it when it ends.

#[cfg(feature = "test-hooks")]
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::family::EncodeRequest;
use crate::model::agreement;
use crate::model::session::OnnxModel;

use super::call::Call;
use super::controlnet;
use super::denoise::{self, guidance_embedding};
use super::latents::{self, ModeInput};
use super::options::{Preview, StepInfo, StepObserver};
use super::plan::{Mode, Plan};
use super::preview::Previews;
use super::pyfloat::decimal_f64;
use super::request::{GenerateParams, Images, Latents, PreviewKind, Timings};
use super::safety;
use super::{Graphs, Pipeline};

/// What the checks before the stages decided of a call.
pub(super) struct Stages {
    /// The plan.
    pub plan: Plan,
    /// The ControlNets' graph files, in request order.
    pub controlnets: Vec<std::path::PathBuf>,
    /// When the call started.
    pub started: Instant,
}

impl Pipeline {
    /// The stages of one call, under the graphs' lock.
    pub(super) fn run_stages(
        &self,
        call: &Call<'_>,
        g: &mut Graphs,
        params: &GenerateParams,
        stages: Stages,
        mut observer: Option<StepObserver<'_>>,
    ) -> Result<Images> {
        let Stages {
            plan,
            controlnets,
            started,
        } = stages;
        call.check_cancel()?;
        let profile = self.profile_memory;
        let mut timings = Timings::default();
        let stage_begin = || {
            if profile {
                crate::memory::reset_peak_rss();
            }
        };
        let stage_end = |name: &'static str, timings: &mut Timings| {
            if profile {
                if let Some(peak) = crate::memory::peak_rss() {
                    timings.peak_rss.push((name, peak));
                }
            }
        };
        let Plan {
            width,
            height,
            scheduler: mut sched,
            begin,
            end,
            prediction,
            cfg,
            mode,
        } = plan;

        stage_begin();
        self.ensure_graphs(g, params, &mut timings)?;
        let parts = self.text_parts;
        for (slot, part) in g.text.iter_mut().zip(parts) {
            let model = self.stage(slot, part, &mut timings)?;
            self.bind_loras(model, part, params)?;
        }
        let mut encoders: Vec<&mut OnnxModel> = g.text.iter_mut().flatten().collect();
        if encoders.len() != parts.len() {
            return Err(Error::internal("a text encoder is not loaded"));
        }
        let req = EncodeRequest {
            params,
            size: (width, height),
            cfg,
            from_image: mode != Mode::Text,
        };
        let text = self
            .family
            .encode(call, &mut encoders, &self.io, &req, &mut timings)?;
        drop(encoders);
        for k in 0..g.text.len() {
            self.release(&mut g.text[k], &mut timings);
        }
        stage_end("text_encoder", &mut timings);

        let f = self.format.factor;
        let timestep_cond = self.dims.timestep_cond.map(|dim| {
            // The LCM pipeline embeds `guidance_scale - 1`, computed by Python in float64.
            let g = decimal_f64(params.guidance);
            let one = guidance_embedding((g - 1.0) as f32, dim);
            (latents::repeat(&one, params.count), dim)
        });
        let spec = denoise::LoopSpec {
            count: params.count,
            channels: self.format.channels,
            height: height / f,
            width: width / f,
            cfg,
            guidance: params.guidance,
            guidance_rescale: params.guidance_rescale,
            begin,
            end,
            timestep_cond,
        };
        let mut rng = latents::generator(params.generator, params.seed);
        if params.init_image.is_some() {
            stage_begin();
        }
        let mode_input = ModeInput {
            params,
            mode,
            begin,
            end,
            size: (width, height),
            format: &self.format,
            inpainting_unet: self.dims.is_inpainting(),
        };
        let (mut lat, mut hooks) = latents::initial_latents(
            call,
            g.vae_encoder.as_mut().zip(g.vae_encoder_io.as_ref()),
            &mode_input,
            &spec,
            sched.as_ref(),
            rng.as_mut(),
            &mut timings,
        )?;
        if params.init_image.is_some() {
            self.release(&mut g.vae_encoder, &mut timings);
            stage_end("vae_encoder", &mut timings);
        }

        stage_begin();
        // Full previews decode with the VAE decoder during the loop.
        if params.preview == PreviewKind::Full && params.preview_every > 0 {
            self.stage(&mut g.vae_decoder, "vae_decoder", &mut timings)?;
        }
        let model = self.stage(&mut g.unet, "unet", &mut timings)?;
        self.bind_loras(model, "unet", params)?;
        if !controlnets.is_empty() {
            let t0 = Instant::now();
            let levels = self.residual_levels.as_deref().unwrap_or_default();
            let (path, added) = (self.folder.onnx("unet"), self.io.unet.added.is_some());
            let ld = &self.loader;
            if controlnet::ensure(ld, &mut g.controlnets, &controlnets, added, &path, levels)? {
                timings.load += t0.elapsed();
            }
        }
        let Graphs {
            unet,
            vae_decoder,
            preview_decoder,
            preview_io,
            controlnets: loaded,
            ..
        } = &mut *g;
        let mut control = match (&self.io.unet.residuals, &self.residual_levels) {
            (Some(r), Some(levels)) => Some(controlnet::Control::new(
                params,
                controlnets,
                loaded,
                r,
                levels,
                &spec,
                sched.timesteps().len(),
            )),
            _ => None,
        };
        let unet = unet
            .as_mut()
            .ok_or_else(|| Error::internal("unet not loaded"))?;
        let total = end - begin;
        let lat_shape = [spec.count, spec.channels, spec.height, spec.width];
        let (vae_file, preview_file) = (self.folder.onnx("vae_decoder"), self.preview_file());
        let mut previews = Previews {
            kind: params.preview,
            every: params.preview_every,
            total,
            prediction,
            shape: lat_shape,
            format: &self.format,
            time: std::time::Duration::ZERO,
        };
        let mut on_step = |e: &denoise::StepEvent<'_>| -> Result<bool> {
            let step = e.index - begin + 1;
            #[cfg(feature = "test-hooks")]
            if self.debug_panic_step.load(Ordering::Relaxed) == step {
                panic!("sdrt test hook: forced panic after step {step}");
            }
            let Some(obs) = observer.as_mut() else {
                return Ok(true);
            };
            let rendered = previews.after_step(
                call,
                step,
                e,
                vae_decoder
                    .as_mut()
                    .map(|m| (m, &self.io.vae_decoder, vae_file.as_path())),
                preview_decoder
                    .as_mut()
                    .zip(preview_io.as_ref())
                    .map(|(m, io)| (m, io, preview_file.as_path())),
            )?;
            let info = StepInfo {
                step,
                total,
                timestep: e.timestep,
                elapsed: started.elapsed(),
                preview: rendered.as_ref().map(|(w, h, imgs)| Preview {
                    kind: params.preview,
                    width: *w,
                    height: *h,
                    images: imgs,
                }),
            };
            Ok(obs(&info))
        };
        denoise::denoise(
            call,
            unet,
            &self.io.unet,
            sched.as_mut(),
            &spec,
            &text,
            &mut lat,
            rng.as_mut(),
            hooks.as_mut(),
            control.as_mut(),
            &mut on_step,
            &mut timings,
        )?;
        drop(control);
        timings.preview = previews.time;
        if self.low_memory {
            g.controlnets.clear();
        }
        self.release(&mut g.unet, &mut timings);
        stage_end("unet", &mut timings);

        if params.output_latents {
            return Ok(Images {
                width,
                height,
                images: Vec::new(),
                flagged: Vec::new(),
                latents: Some(Latents {
                    family: self.family.latent_family().to_string(),
                    shape: lat_shape,
                    data: lat,
                }),
                timings,
            });
        }
        stage_begin();
        let lat = self.format.vae_input(&lat);
        let vd = self.stage(&mut g.vae_decoder, "vae_decoder", &mut timings)?;
        let mut images = super::decode::decode(
            call,
            vd,
            &self.io.vae_decoder,
            &lat,
            lat_shape,
            (width, height),
            true,
            &vae_file,
        )?;
        timings.vae_decoder = vd.last_run();
        self.release(&mut g.vae_decoder, &mut timings);
        stage_end("vae_decoder", &mut timings);

        let flagged = match &g.safety_pre {
            Some(pre) => {
                stage_begin();
                let model = self.stage(&mut g.safety_checker, "safety_checker", &mut timings)?;
                let flags = safety::check(call, model, pre, &images, (width, height))?;
                timings.safety_checker = model.last_run();
                self.release(&mut g.safety_checker, &mut timings);
                stage_end("safety_checker", &mut timings);
                // Flagged images are blacked out, as diffusers' checker does.
                for (img, &f) in images.iter_mut().zip(&flags) {
                    if f {
                        img.fill(0);
                    }
                }
                flags
            }
            None => Vec::new(),
        };
        Ok(Images {
            width,
            height,
            images,
            flagged,
            latents: None,
            timings,
        })
    }

    /// The graph in `slot`, loaded first when it is not (the low-memory mode's stages, and
    /// first uses); the load's time goes to `timings.load`.
    pub(super) fn stage<'g>(
        &self,
        slot: &'g mut Option<OnnxModel>,
        part: &str,
        timings: &mut Timings,
    ) -> Result<&'g mut OnnxModel> {
        if slot.is_none() {
            let t0 = Instant::now();
            *slot = Some(self.loader.load(part)?);
            timings.load += t0.elapsed();
        }
        slot.as_mut()
            .ok_or_else(|| Error::internal(format!("{part} not loaded")))
    }

    /// Ends a stage: in the low-memory mode its graph is dropped; in both modes the memory
    /// its last run freed (the arena shrinks after it) is handed back to the system. Without
    /// that, glibc keeps the freed arena chunks, and the UNet's, allocated tensor by tensor,
    /// fragment its heap: resident memory grew by about 20 MB per 256x256 call on the tiny
    /// model (BENCHMARKS.md).
    pub(super) fn release(&self, slot: &mut Option<OnnxModel>, timings: &mut Timings) {
        let t0 = Instant::now();
        if self.low_memory {
            drop(slot.take());
        }
        crate::memory::trim_heap();
        timings.load += t0.elapsed();
    }

    /// The TAESD decoder's file: the pipeline's option, else the folder's
    /// `vae_preview/model.onnx`.
    pub(super) fn preview_file(&self) -> std::path::PathBuf {
        match &self.preview_decoder {
            Some(p) => p.clone(),
            None => self.folder.onnx("vae_preview"),
        }
    }

    /// Loads the VAE encoder or the preview decoder on first use.
    pub(super) fn ensure_graphs(
        &self,
        g: &mut Graphs,
        params: &GenerateParams,
        timings: &mut Timings,
    ) -> Result<()> {
        let t0 = Instant::now();
        let before = (g.vae_encoder.is_some(), g.preview_decoder.is_some());
        let latent = self.format.channels;
        if params.init_image.is_some() && !before.0 {
            let path = self.folder.onnx("vae_encoder");
            if !path.is_file() {
                return Err(Error::new(
                    ErrorKind::ModelNotFound,
                    format!(
                        "{} is missing: image-to-image and inpainting need the VAE encoder",
                        path.display()
                    ),
                ));
            }
            let encoder = self.loader.load("vae_encoder")?;
            g.vae_encoder_io = Some(agreement::check_loaded_vae_encoder(
                &path, &encoder, latent,
            )?);
            g.vae_encoder = Some(encoder);
        }
        if params.preview == PreviewKind::Taesd && g.preview_decoder.is_none() {
            let path = self.preview_file();
            if !path.is_file() {
                return Err(Error::invalid(format!(
                    "preview: taesd previews need a TAESD decoder; {} does not exist (set the \
                     pipeline's preview decoder path or add vae_preview/model.onnx)",
                    path.display()
                )));
            }
            let decoder = self.loader.load_file("vae_preview", &path)?;
            g.preview_io = Some(agreement::check_loaded_preview_decoder(
                &path, &decoder, latent,
            )?);
            g.preview_decoder = Some(decoder);
        }
        if before != (g.vae_encoder.is_some(), g.preview_decoder.is_some()) {
            timings.load += t0.elapsed();
        }
        Ok(())
    }
}
