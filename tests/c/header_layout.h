/*
 * Every field of every public struct of sdrt.h, as an X-macro, so the C and C++ header checks
 * print the same layout report (tests/c_api.rs compares it with the Rust definitions).
 */
#ifndef SDRT_TEST_HEADER_LAYOUT_H
#define SDRT_TEST_HEADER_LAYOUT_H

#define SDRT_TEST_LAYOUT(SIZE, FIELD)                                                        \
    SIZE(sdrt_runtime_options)                                                               \
    FIELD(sdrt_runtime_options, struct_size)                                                 \
    FIELD(sdrt_runtime_options, log_level)                                                   \
    FIELD(sdrt_runtime_options, ort_library_path)                                            \
    FIELD(sdrt_runtime_options, log_callback)                                                \
    FIELD(sdrt_runtime_options, log_user_data)                                               \
    SIZE(sdrt_pipeline_options)                                                              \
    FIELD(sdrt_pipeline_options, struct_size)                                                \
    FIELD(sdrt_pipeline_options, provider)                                                   \
    FIELD(sdrt_pipeline_options, strict_provider)                                            \
    FIELD(sdrt_pipeline_options, coreml_compute_units)                                       \
    FIELD(sdrt_pipeline_options, coreml_ml_program)                                          \
    FIELD(sdrt_pipeline_options, coreml_static_shapes)                                       \
    FIELD(sdrt_pipeline_options, static_width)                                               \
    FIELD(sdrt_pipeline_options, static_height)                                              \
    FIELD(sdrt_pipeline_options, static_count)                                               \
    FIELD(sdrt_pipeline_options, cuda_device_id)                                             \
    FIELD(sdrt_pipeline_options, intra_op_threads)                                           \
    FIELD(sdrt_pipeline_options, coreml_cache_dir)                                           \
    SIZE(sdrt_generate_params)                                                               \
    FIELD(sdrt_generate_params, struct_size)                                                 \
    FIELD(sdrt_generate_params, width)                                                       \
    FIELD(sdrt_generate_params, height)                                                      \
    FIELD(sdrt_generate_params, steps)                                                       \
    FIELD(sdrt_generate_params, guidance)                                                    \
    FIELD(sdrt_generate_params, scheduler)                                                   \
    FIELD(sdrt_generate_params, seed)                                                        \
    FIELD(sdrt_generate_params, generator)                                                   \
    FIELD(sdrt_generate_params, count)                                                       \
    FIELD(sdrt_generate_params, prompt)                                                      \
    FIELD(sdrt_generate_params, negative_prompt)                                             \
    FIELD(sdrt_generate_params, progress)                                                    \
    FIELD(sdrt_generate_params, progress_user_data)                                          \
    FIELD(sdrt_generate_params, eta)                                                         \
    FIELD(sdrt_generate_params, prediction_type)                                             \
    FIELD(sdrt_generate_params, timestep_spacing)                                            \
    FIELD(sdrt_generate_params, prompt_2)                                                \
    FIELD(sdrt_generate_params, negative_prompt_2)                                       \
    FIELD(sdrt_generate_params, original_width)                                          \
    FIELD(sdrt_generate_params, original_height)                                         \
    FIELD(sdrt_generate_params, crop_x)                                                  \
    FIELD(sdrt_generate_params, crop_y)                                                  \
    FIELD(sdrt_generate_params, target_width)                                            \
    FIELD(sdrt_generate_params, target_height)                                           \
    FIELD(sdrt_generate_params, negative_original_width)                                 \
    FIELD(sdrt_generate_params, negative_original_height)                                \
    FIELD(sdrt_generate_params, negative_crop_x)                                         \
    FIELD(sdrt_generate_params, negative_crop_y)                                         \
    FIELD(sdrt_generate_params, negative_target_width)                                   \
    FIELD(sdrt_generate_params, negative_target_height)                                  \
    FIELD(sdrt_generate_params, aesthetic_score)                                         \
    FIELD(sdrt_generate_params, negative_aesthetic_score)                                \
    FIELD(sdrt_generate_params, denoising_start)                                         \
    FIELD(sdrt_generate_params, denoising_end)                                           \
    FIELD(sdrt_generate_params, output_latents)                                          \
    FIELD(sdrt_generate_params, latents)                                                 \
    SIZE(sdrt_latents)                                                                   \
    FIELD(sdrt_latents, struct_size)                                                     \
    FIELD(sdrt_latents, count)                                                           \
    FIELD(sdrt_latents, channels)                                                        \
    FIELD(sdrt_latents, height)                                                          \
    FIELD(sdrt_latents, width)                                                           \
    FIELD(sdrt_latents, data)                                                            \
    FIELD(sdrt_latents, family)                                                          \
    SIZE(sdrt_pipeline_info)                                                                 \
    FIELD(sdrt_pipeline_info, struct_size)                                                   \
    FIELD(sdrt_pipeline_info, native_width)                                                  \
    FIELD(sdrt_pipeline_info, native_height)                                                 \
    FIELD(sdrt_pipeline_info, prediction_type)                                               \
    FIELD(sdrt_pipeline_info, default_scheduler)                                             \
    FIELD(sdrt_pipeline_info, provider)                                                      \
    FIELD(sdrt_pipeline_info, default_scheduler_class)

#endif /* SDRT_TEST_HEADER_LAYOUT_H */
