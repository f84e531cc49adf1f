//! A plugin provider that cannot build a graph (issue 15): each graph falls back to the CPU
//! provider with a warning and the images are the CPU provider's, or strict mode fails naming
//! the graph; the C API counts the graphs that fell back. Part of the `SDRT_TEST_OPENVINO`
//! group (tools/test.sh).
//!
//! Any machine: the OpenVINO plugin, registered with virtual devices allowed (a test hook),
//! offers NPUs to compile for; without the NPU compiler (not in the wheel) OpenVINO refuses
//! every graph. A binary of its own: a library is registered once per runtime, and this one
//! must be registered that way first.

//! Needs the `test-hooks` feature (tools/test.sh builds the tests with it).

mod common;

#[cfg(feature = "test-hooks")]
#[test]
fn graphs_the_plugin_cannot_build_run_on_cpu_or_fail_in_strict_mode() {
    use std::ffi::CString;
    use std::sync::Arc;

    use parking_lot::Mutex;
    use sdrt::runtime::{
        DeviceKind, EpDeviceChoice, EpOptions, EpPrecision, LogLevel, Logger, OPENVINO_EP,
    };
    use sdrt::{ErrorKind, Pipeline, PipelineOptions, Provider};
    if common::skipped("SDRT_TEST_OPENVINO") {
        return;
    }
    let rt = common::init_runtime();
    let plugin = common::openvino_plugin();
    rt.debug_register_ep_library_with_virtual_devices(&plugin)
        .unwrap();
    assert!(
        rt.ep_devices()
            .iter()
            .any(|d| d.ep_name == OPENVINO_EP && d.kind == DeviceKind::Npu),
        "the plugin offers no (virtual) NPU: {:?}",
        rt.ep_devices()
    );
    let case = common::image_cases()
        .into_iter()
        .find(|c| c.name == "basic")
        .unwrap();
    let kept = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = kept.clone();
    let logger = Logger::new(
        Arc::new(move |level, msg: &str| {
            if level <= LogLevel::Warn {
                sink.lock().push(msg.to_string());
            }
        }),
        LogLevel::Warn,
    );
    let options = |strict: bool, logger: Option<Logger>| PipelineOptions {
        provider: Provider::OpenVino,
        strict_provider: strict,
        ep: EpOptions {
            library: Some(plugin.clone()),
            device: EpDeviceChoice::Npu,
            precision: EpPrecision::F32,
            ..EpOptions::default()
        },
        logger,
        ..PipelineOptions::default()
    };
    let p = Pipeline::load(&case.model, &options(false, Some(logger))).unwrap();
    let info = p.info();
    assert_eq!(info.provider, Provider::OpenVino);
    let parts: Vec<&str> = info
        .graph_providers
        .iter()
        .map(|(g, _)| g.as_str())
        .collect();
    assert_eq!(parts, ["text_encoder", "unet", "vae_decoder"]);
    assert!(
        info.graph_providers
            .iter()
            .all(|(_, p)| *p == Provider::Cpu),
        "{:?}",
        info.graph_providers
    );
    let warned = kept.lock().join("\n");
    for part in parts {
        let says = format!("{part}: openvino could not build the graph");
        assert!(warned.contains(&says), "no '{says}' in: {warned}");
    }
    let images = p.generate(&common::image_params(&case), None).unwrap();
    let (_, _, want) = common::read_png(&case.files[0]);
    common::assert_close("graphs refused by openvino", &images.images[0], &want);

    let e = Pipeline::load(&case.model, &options(true, None))
        .err()
        .expect("strict mode refuses a graph the provider cannot build");
    assert_eq!(e.kind(), ErrorKind::ProviderUnavailable, "{e}");
    assert!(
        e.message()
            .contains("text_encoder: openvino could not build the graph"),
        "{e}"
    );

    // The C API: the info counts the graphs that fell back.
    use sdrt::ffi::ep::{sdrt_ep_device, sdrt_ep_precision};
    use sdrt::ffi::params::sdrt_provider;
    use sdrt::ffi::pipeline::*;
    use sdrt::ffi::status::sdrt_status;
    let model = CString::new(case.model.to_str().unwrap()).unwrap();
    let lib = CString::new(plugin.to_str().unwrap()).unwrap();
    let o = sdrt_pipeline_options {
        provider: sdrt_provider::SDRT_PROVIDER_OPENVINO as u32,
        ep_device: sdrt_ep_device::SDRT_EP_DEVICE_NPU as u32,
        ep_precision: sdrt_ep_precision::SDRT_EP_PRECISION_F32 as u32,
        ep_library_path: lib.as_ptr(),
        log_level: 0,
        ..Default::default()
    };
    let mut p = std::ptr::null_mut();
    // SAFETY: valid options, strings and out-pointers; the info struct is zeroed, then filled
    // by its init function; the pipeline is freed once.
    unsafe {
        assert_eq!(
            sdrt_pipeline_create(model.as_ptr(), &o, &mut p),
            sdrt_status::SDRT_OK
        );
        let mut info: sdrt_pipeline_info = std::mem::zeroed();
        sdrt_pipeline_info_init_sized(&mut info, std::mem::size_of::<sdrt_pipeline_info>() as u32);
        assert_eq!(sdrt_pipeline_get_info(p, &mut info), sdrt_status::SDRT_OK);
        sdrt_pipeline_free(p);
        assert_eq!(info.provider, sdrt_provider::SDRT_PROVIDER_OPENVINO as u32);
        assert_eq!(info.cpu_fallback_graphs, 3);
    }
}
