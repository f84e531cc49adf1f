// Fourth translation unit of the binding's test program (see bindings_a.cpp): LoRAs chosen per
// call through sdrt.hpp. `bindings lora MODEL LORAS OUT` (MODEL tiny-sd2, LORAS its LoRA
// fixtures) writes, for tests/cpp.rs to compare with tests/goldens/lora.json:
//
//   OUT/sd2_two.ppm     sd2_unet.safetensors at 0.7 and sd2_te_unet.safetensors at 0.6
//   OUT/sd2_none.ppm    the same request without LoRAs, on the same pipeline after it
//   OUT/sd2_unet_s1.ppm sd2_unet.safetensors at the default scale (1.0)
//   OUT/again.ppm       sd2_two once more, after the others (tests/cpp.rs: the same bytes)
//
// and checks the refusals and lifetimes: a bad file throws (value()) an sdrt::Error naming
// "rank mismatch"; a freed Lora, another pipeline's, an empty one and a NaN scale are
// refused; a Lora outliving its Pipeline (destroyed or move-assigned over) is inert.

#include <sdrt.hpp>

#include "bindings_check.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <type_traits>
#include <utility>

static_assert(!std::is_copy_constructible_v<sdrt::Lora>);
static_assert(!std::is_copy_assignable_v<sdrt::Lora>);
static_assert(std::is_nothrow_move_constructible_v<sdrt::Lora>);
static_assert(std::is_nothrow_move_assignable_v<sdrt::Lora>);
static_assert(std::is_nothrow_destructible_v<sdrt::Lora>);

int lora(const std::string &model, const std::string &loras, const std::string &out);

int lora(const std::string &model, const std::string &loras, const std::string &out) {
    sdrt::Pipeline pipe = sdrt::Pipeline::create(model).value();
    // sd2_two's request (tests/cpp.rs checks it against lora.json).
    const sdrt::Params params = sdrt::Params()
                                    .prompt("a snowy mountain village")
                                    .negative_prompt("blurry")
                                    .size(64, 64)
                                    .steps(5)
                                    .guidance(7.5f)
                                    .seed(200)
                                    .generator(SDRT_GENERATOR_NUMPY);
    sdrt::Lora unet = pipe.load_lora(loras + "/sd2_unet.safetensors").value();
    sdrt::Lora te_unet = pipe.load_lora(loras + "/sd2_te_unet.safetensors").value();
    check(unet.loaded() && te_unet.loaded() && unet.get() != te_unet.get(), "two handles");
    const sdrt::Params two = sdrt::Params(params).lora(unet, 0.7f).lora(te_unet, 0.6f);
    const sdrt_generate_params c = two.c_params();
    check(c.lora_count == 2 && c.loras != nullptr && c.loras[0].lora == unet.get() &&
              c.loras[0].scale == 0.7f && c.loras[1].lora == te_unet.get() &&
              c.loras[1].scale == 0.6f,
          "c_params() carries the LoRAs");
    check(params.c_params().loras == nullptr && params.c_params().lora_count == 0,
          "a copy's LoRAs are its own");
    save(pipe, two, out + "/sd2_two.ppm");
    save(pipe, params, out + "/sd2_none.ppm");
    save(pipe, sdrt::Params(params).lora(unet), out + "/sd2_unet_s1.ppm");
    save(pipe, sdrt::Params(two).clear_loras().lora(unet, 0.7f).lora(te_unet, 0.6f),
         out + "/again.ppm");

    // A bad file: value() throws the Error with sdrt's message, and the pipeline goes on.
    auto bad = pipe.load_lora(loras + "/bad_rank.safetensors");
    check(!bad.ok() && bad.status() == SDRT_ERROR_INVALID_ARGUMENT, "bad_rank: refused");
#if SDRT_HPP_EXCEPTIONS
    try {
        sdrt::Lora never = pipe.load_lora(loras + "/bad_rank.safetensors").value();
        static_cast<void>(never);
        check(false, "bad_rank: value() throws");
    } catch (const sdrt::Error &e) {
        std::printf("bad_rank: thrown %s\n", e.what());
        check(e.status == SDRT_ERROR_INVALID_ARGUMENT &&
                  e.message.find("rank mismatch") != std::string::npos,
              "bad_rank: an sdrt::Error naming the rank mismatch");
    }
#endif
    auto missing = pipe.load_lora(loras + "/no_such_file.safetensors");
    check(missing.status() == SDRT_ERROR_MODEL_NOT_FOUND, "a missing file: MODEL_NOT_FOUND");

    // Refusals in a call.
    const sdrt::Params quick = sdrt::Params().prompt("a fox").size(64, 64).steps(2);
    refused(pipe, sdrt::Params(quick).lora(unet, std::nanf("")), "NaN scale", "loras[0].scale");
    refused(pipe, sdrt::Params(quick).lora(sdrt::Lora()), "empty Lora", "loras[0]");
    {
        sdrt::Pipeline other = sdrt::Pipeline::create(model).value();
        sdrt::Lora theirs = other.load_lora(loras + "/sd2_unet.safetensors").value();
        refused(pipe, sdrt::Params(quick).lora(unet).lora(theirs), "another pipeline's",
                "loras[1]");
        // Moved, the pipeline keeps its LoRAs: the handle works through the new owner.
        sdrt::Pipeline moved = std::move(other);
        check(moved.generate(sdrt::Params(quick).lora(theirs)).ok(), "after a move");
        check(theirs.loaded(), "loaded after the pipeline moved");
        // Move-assigned over: the old pipeline and its LoRAs are freed, the handle inert.
        moved = sdrt::Pipeline::create(model).value();
        check(!theirs.loaded(), "inert once its pipeline is gone");
        check(theirs.free().ok() && !theirs.loaded(), "free() of an inert Lora: nothing to do");
        sdrt::Lora outlives = moved.load_lora(loras + "/sd2_unet.safetensors").value();
        { sdrt::Pipeline gone = std::move(moved); }
        check(!outlives.loaded(), "a Lora outliving its Pipeline is inert");
        // Its destructor, at the end of this block, must not touch the freed pipeline.
    }
    // Freed: refused; freeing an empty handle is nothing; the pipeline still generates.
    const sdrt_lora *old = unet.get();
    check(unet.free().ok() && !unet.loaded() && unet.get() == nullptr, "free() empties it");
    check(unet.free().ok(), "free() twice: nothing to do");
    refused(pipe, sdrt::Params(quick).lora(old), "freed", "not loaded in this pipeline");
    sdrt::Lora moved_lora = std::move(te_unet);
    check(!te_unet.loaded() && moved_lora.loaded(), "a moved Lora");
    check(pipe.generate(sdrt::Params(quick).lora(moved_lora, 0.5f)).ok(), "still generates");
    return failures;
}
