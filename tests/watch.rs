//! Watching and stopping: step information, the three preview kinds, and cancellation inside
//! a step.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use sdrt::{ErrorKind, GenerateParams, Pipeline, PipelineOptions, PreviewKind, StepInfo};

fn preview_pipeline() -> Pipeline {
    common::init_runtime();
    let model = common::root().join("tests/fixtures/tiny-sd2-preview");
    Pipeline::load(&model, &PipelineOptions::default()).expect("fixture loads")
}

struct Seen {
    step: usize,
    total: usize,
    timestep: f64,
    elapsed: Duration,
    preview: Option<(PreviewKind, usize, usize, Vec<Vec<u8>>)>,
}

fn observe(p: &Pipeline, params: &GenerateParams) -> (sdrt::Images, Vec<Seen>) {
    let mut seen = Vec::new();
    let mut obs = |s: &StepInfo<'_>| {
        seen.push(Seen {
            step: s.step,
            total: s.total,
            timestep: s.timestep,
            elapsed: s.elapsed,
            preview: s
                .preview
                .map(|p| (p.kind, p.width, p.height, p.images.to_vec())),
        });
        true
    };
    let images = p.generate_observed(params, Some(&mut obs)).unwrap();
    (images, seen)
}

#[test]
fn step_info_and_every_preview_kind() {
    let p = preview_pipeline();
    for (kind, side) in [
        (PreviewKind::LatentRgb, 8),
        (PreviewKind::Taesd, 64),
        (PreviewKind::Full, 64),
    ] {
        let params = GenerateParams {
            prompt: "a lighthouse".into(),
            steps: 6,
            count: 2,
            preview: kind,
            preview_every: 4,
            scheduler: Some(sdrt::SchedulerKind::Euler),
            ..GenerateParams::default()
        };
        let (images, seen) = observe(&p, &params);
        let sched = sdrt::scheduler::create(
            sdrt::SchedulerKind::Euler,
            &sdrt::scheduler::SchedulerConfig::from_json(&common::read_json(
                &common::fixture().join("scheduler/scheduler_config.json"),
            ))
            .unwrap(),
            6,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(seen.len(), 6, "{kind:?}");
        for (k, s) in seen.iter().enumerate() {
            assert_eq!((s.step, s.total), (k + 1, 6));
            assert_eq!(s.timestep, sched.timesteps()[k]);
            if k > 0 {
                assert!(s.elapsed >= seen[k - 1].elapsed);
            }
            // Every 4th evaluation and the last.
            let want_preview = s.step == 4 || s.step == 6;
            assert_eq!(
                s.preview.is_some(),
                want_preview,
                "{kind:?} step {}",
                s.step
            );
            if let Some((pk, w, h, imgs)) = &s.preview {
                assert_eq!((*pk, *w, *h), (kind, side, side));
                assert_eq!(imgs.len(), 2);
                assert!(imgs.iter().all(|i| i.len() == side * side * 3));
                assert_ne!(imgs[0], imgs[1], "one preview per image of the batch");
            }
        }
        let first = &seen[3].preview.as_ref().unwrap().3[0];
        let last = &seen[5].preview.as_ref().unwrap().3[0];
        assert_ne!(first, last, "{kind:?}: the preview follows the denoising");
        if kind == PreviewKind::Full {
            // Euler's last step lands exactly on the clean latents it predicts (sigma_next
            // = 0), so the last full preview is the final image.
            for (i, img) in images.images.iter().enumerate() {
                common::assert_close(
                    "last full preview",
                    &seen[5].preview.as_ref().unwrap().3[i],
                    img,
                );
            }
        }
        let n = seen.iter().filter(|s| s.preview.is_some()).count() as u32;
        eprintln!(
            "{kind:?}: {:.3} ms per preview ({} images of {side}x{side}), a step {:.3} ms",
            images.timings.preview.as_secs_f64() * 1e3 / n as f64,
            params.count,
            images.timings.unet.as_secs_f64() * 1e3 / 6.0
        );
    }
}

#[test]
fn latent_rgb_is_the_fixed_map() {
    // One latent pixel per channel basis vector: the preview pixel is (row of the map + 1) / 2.
    for k in 0..4 {
        let mut lat = vec![0f32; 4];
        lat[k] = 1.0;
        let img = sdrt::pipeline::latent_rgb(&lat, 1, (1, 1));
        for (c, &px) in img[0].iter().enumerate() {
            let v = ((sdrt::pipeline::LATENT_RGB[k][c] + 1.0) / 2.0 * 255.0).round() as u8;
            assert_eq!(px, v, "channel {k} -> {c}");
        }
    }
}

#[test]
fn previews_do_not_change_the_image() {
    let p = preview_pipeline();
    let base = GenerateParams {
        prompt: "a bridge".into(),
        steps: 4,
        seed: 3,
        ..GenerateParams::default()
    };
    let (plain, _) = observe(&p, &base);
    for kind in [
        PreviewKind::LatentRgb,
        PreviewKind::Taesd,
        PreviewKind::Full,
    ] {
        let (with, _) = observe(
            &p,
            &GenerateParams {
                preview: kind,
                ..base.clone()
            },
        );
        assert_eq!(with.images, plain.images, "{kind:?}");
    }
}

/// A step of at least 200 ms on 2 cores: the tiny UNet at a large size.
fn slow_params() -> (GenerateParams, Duration) {
    let p = common_pipeline();
    for side in [512usize, 640, 768, 1024] {
        let params = GenerateParams {
            prompt: "a slow step".into(),
            width: side,
            height: side,
            steps: 3,
            scheduler: Some(sdrt::SchedulerKind::Euler),
            ..GenerateParams::default()
        };
        let mut stamps = Vec::new();
        let start = Instant::now();
        let mut obs = |_: &StepInfo<'_>| {
            stamps.push(start.elapsed());
            stamps.len() < 3
        };
        let _ = p.generate_observed(&params, Some(&mut obs));
        // Step 2 -> 3: a warm step.
        let step = stamps[2] - stamps[1];
        if step >= Duration::from_millis(200) {
            return (params, step);
        }
    }
    panic!("no size gives a 200 ms step");
}

fn common_pipeline() -> Pipeline {
    common::init_runtime();
    Pipeline::load(&common::fixture(), &PipelineOptions::default()).expect("fixture loads")
}

/// One generate call cancelled from another thread halfway into its fourth UNet run; the
/// step is measured in the same call, warm (from the end of step 2 to the end of step 3), so
/// under the same load. Returns (the time from the cancel to the return, the step, the steps
/// that ran to their end: 3 when the cancel stopped step 4).
fn cancel_halfway_into_a_step(
    p: &std::sync::Arc<Pipeline>,
    params: &GenerateParams,
) -> (Duration, Duration, usize) {
    let (tx, rx) = mpsc::channel::<Duration>();
    let canceller = {
        let p = std::sync::Arc::clone(p);
        std::thread::spawn(move || {
            let step = rx.recv().unwrap();
            std::thread::sleep(step / 2);
            let at = Instant::now();
            p.cancel();
            at
        })
    };
    let mut stamps = Vec::new();
    let mut tx = Some(tx);
    let mut obs = |_: &StepInfo<'_>| {
        stamps.push(Instant::now());
        if stamps.len() == 3 {
            if let Some(tx) = tx.take() {
                tx.send(stamps[2] - stamps[1]).unwrap();
            }
        }
        true
    };
    let err = p.generate_observed(params, Some(&mut obs)).unwrap_err();
    let returned = Instant::now();
    let cancelled_at = canceller.join().unwrap();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    (returned - cancelled_at, stamps[2] - stamps[1], stamps.len())
}

/// A cancel stops the UNet run in flight (ONNX Runtime's terminate flag), not only the loop at
/// the next step: issued halfway into a step, it must return within a quarter of a step (a
/// cancel that waited for the step to end would take about half of one). The machine is
/// shared, so a slow try is repeated: three tries, one must be that fast.
#[test]
fn cancel_interrupts_the_step_in_flight() {
    let (params, _) = slow_params();
    let params = GenerateParams { steps: 6, ..params };
    let p = std::sync::Arc::new(common_pipeline());
    let mut tries = Vec::new();
    for _ in 0..3 {
        let (latency, step, ran) = cancel_halfway_into_a_step(&p, &params);
        eprintln!(
            "cancel returned {:.1} ms after sdrt_pipeline_cancel, halfway into a {:.0} ms step \
             ({}x{}; {ran} steps ran to their end)",
            latency.as_secs_f64() * 1e3,
            step.as_secs_f64() * 1e3,
            params.width,
            params.height
        );
        tries.push((latency, step, ran));
        if ran == 3 && latency < step / 4 {
            break;
        }
    }
    let (latency, step, ran) = *tries.last().unwrap();
    assert!(
        ran == 3 && latency < step / 4,
        "a cancel halfway into step 4 took {latency:?} with {step:?} steps ({ran} steps ran to \
         their end), in each of {} tries ({tries:?}): it waits for the step to end",
        tries.len()
    );

    // The next call on the same pipeline gives what a fresh pipeline gives.
    let small = GenerateParams {
        prompt: "after a cancel".into(),
        steps: 3,
        seed: 9,
        ..GenerateParams::default()
    };
    let again = p.generate(&small, None).unwrap();
    let fresh = common_pipeline().generate(&small, None).unwrap();
    assert_eq!(again.images, fresh.images);
}

#[test]
fn a_callback_returning_false_stops_before_the_next_step() {
    let p = common_pipeline();
    let params = GenerateParams {
        prompt: "stop".into(),
        steps: 8,
        ..GenerateParams::default()
    };
    let mut steps = 0;
    let mut obs = |_: &StepInfo<'_>| {
        steps += 1;
        steps < 3
    };
    let err = p.generate_observed(&params, Some(&mut obs)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(steps, 3);
    // And the pipeline is fine afterwards.
    assert!(p
        .generate(&GenerateParams { steps: 2, ..params }, None)
        .is_ok());
}

/// `render_preview` runs graphs like a generate call, and a cancel stops it like one: its run
/// options are registered with the pipeline, and a cancel after it started is not missed.
#[test]
fn a_cancel_stops_render_preview() {
    let p = std::sync::Arc::new(preview_pipeline());
    let (c, side) = (4, 64);
    let latents = vec![0.1f32; 2 * c * side * side];
    // Uncancelled, the render succeeds (and takes a while: a full 512x512 decode of 2 images).
    let t0 = Instant::now();
    let (w, h, images) = p
        .render_preview(PreviewKind::Full, &latents, 2, (side, side))
        .expect("renders");
    assert_eq!((w, h, images.len()), (512, 512, 2));
    eprintln!("render_preview took {:?} uncancelled", t0.elapsed());
    let worker = {
        let (p, latents) = (std::sync::Arc::clone(&p), latents.clone());
        std::thread::spawn(move || p.render_preview(PreviewKind::Full, &latents, 2, (side, side)))
    };
    // Cancel over and over until the render returns: every cancel after its start counts.
    while !worker.is_finished() {
        p.cancel();
        std::thread::sleep(Duration::from_millis(1));
    }
    let err = worker
        .join()
        .unwrap()
        .expect_err("the render was cancelled");
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    // The pipeline is usable afterwards.
    let again = p
        .render_preview(PreviewKind::Full, &latents, 2, (side, side))
        .expect("renders again");
    assert_eq!(again.2, images);
}
