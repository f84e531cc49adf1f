//! `TorchGenerator` against torch's CPU `randn` (tests/goldens/torch_randn.json, written by
//! tools/make_torch_randn_goldens.py; the format is documented there). Every golden value is
//! compared bit for bit. Large calls are checked through their stored head, tail and strided
//! samples and through the SHA-256 of all their float32 bytes.

mod common;

use std::time::{Duration, Instant};

use sdrt::rng::{NoiseSource, TorchGenerator};
use serde_json::Value;

fn goldens() -> Value {
    common::read_json(&common::goldens().join("torch_randn.json"))
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// Explains the first difference between `got` and `want` (bit patterns).
fn first_diff(got: &[u32], want: &[u32], offset: usize) -> Option<String> {
    got.iter().zip(want).position(|(g, w)| g != w).map(|i| {
        let (g, w) = (got[i], want[i]);
        format!(
            "index {}: got {} ({g:#010x}), want {} ({w:#010x})",
            offset + i,
            f32::from_bits(g),
            f32::from_bits(w)
        )
    })
}

/// Checks one golden section; returns (calls, values generated, values compared directly).
fn check_section(
    section: &Value,
    full_max: usize,
    make: fn(u64) -> TorchGenerator,
) -> (usize, usize, usize) {
    let mut calls = 0;
    let mut generated = 0;
    let mut compared = 0;
    let mut failures = Vec::new();
    for case in section["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let seed = case["seed"].as_u64().unwrap();
        let mut g = make(seed);
        for (k, call) in case["calls"].as_array().unwrap().iter().enumerate() {
            let numel = call["numel"].as_u64().unwrap() as usize;
            let shape: usize = call["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .product();
            assert_eq!(shape, numel, "{name} call {k}: shape and numel disagree");
            let got: Vec<u32> = g.randn(numel).iter().map(|x| x.to_bits()).collect();
            assert_eq!(got.len(), numel);
            calls += 1;
            generated += numel;
            let what = format!("{name} (seed {seed}) call {k} (numel {numel})");
            if numel <= full_max {
                let want = u32s(&call["bits"]);
                assert_eq!(want.len(), numel, "{what}: golden length");
                compared += numel;
                if let Some(d) = first_diff(&got, &want, 0) {
                    failures.push(format!("{what}: {d}"));
                }
            } else {
                let head = u32s(&call["head"]);
                let tail = u32s(&call["tail"]);
                compared += head.len() + tail.len();
                if let Some(d) = first_diff(&got[..head.len()], &head, 0) {
                    failures.push(format!("{what} head: {d}"));
                }
                let start = numel - tail.len();
                if let Some(d) = first_diff(&got[start..], &tail, start) {
                    failures.push(format!("{what} tail: {d}"));
                }
                for s in call["samples"].as_array().unwrap() {
                    let i = s[0].as_u64().unwrap() as usize;
                    let want = s[1].as_u64().unwrap() as u32;
                    compared += 1;
                    if let Some(d) = first_diff(&got[i..=i], &[want], i) {
                        failures.push(format!("{what} sample: {d}"));
                    }
                }
            }
            let bytes: Vec<u8> = got.iter().flat_map(|b| b.to_le_bytes()).collect();
            let digest = hex(&sha256(&bytes));
            if digest != call["sha256"].as_str().unwrap() {
                failures.push(format!("{what}: sha256 differs"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    (calls, generated, compared)
}

#[test]
fn avx2_kernel_matches_torch() {
    let g = goldens();
    let section = &g["kernels"]["avx2"];
    let full_max = g["full_max"].as_u64().unwrap() as usize;
    let (calls, generated, compared) = check_section(section, full_max, TorchGenerator::new);
    let cases = section["cases"].as_array().unwrap().len();
    assert!(
        cases >= 500 && calls >= 580,
        "suspiciously few goldens: {cases} cases, {calls} calls"
    );
    eprintln!(
        "avx2: {cases} cases, {calls} calls, {generated} values hashed, {compared} compared \
         directly (torch {}, {})",
        g["torch_version"], g["cpu_capability"]
    );
}

/// The scalar kernel calls the C library's logf/sinf/cosf as torch does; the goldens come from
/// glibc, so they are checked where sdrt also links glibc.
#[test]
#[cfg_attr(
    not(all(target_os = "linux", target_env = "gnu")),
    ignore = "scalar-kernel goldens come from glibc's logf/sinf/cosf"
)]
fn scalar_kernel_matches_torch_on_glibc() {
    let g = goldens();
    let section = &g["kernels"]["scalar"];
    assert_eq!(section["cpu_capability"], "DEFAULT");
    let full_max = g["full_max"].as_u64().unwrap() as usize;
    let (calls, generated, compared) =
        check_section(section, full_max, TorchGenerator::with_scalar_kernel);
    eprintln!("scalar: {calls} calls, {generated} values hashed, {compared} compared directly");
}

#[test]
fn noise_source_delegates_to_randn() {
    let mut direct = TorchGenerator::new(2024);
    let mut boxed: Box<dyn NoiseSource> = Box::new(TorchGenerator::new(2024));
    for n in [1, 16_384, 3, 17, 16_384] {
        let a = direct.randn(n);
        let b = boxed.randn(n);
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}

#[test]
fn only_the_low_32_seed_bits_matter() {
    for n in [1, 5, 16, 100] {
        let a = TorchGenerator::new(12_345).randn(n);
        let b = TorchGenerator::new(12_345 + (0xdead_beef << 32)).randn(n);
        assert_eq!(a, b);
    }
    assert!(TorchGenerator::new(9).randn(0).is_empty());
}

#[test]
fn large_latents_are_fast_in_debug() {
    let n = 4 * 4 * 96 * 96;
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let mut g = TorchGenerator::new(1);
        let t = Instant::now();
        let v = g.randn(n);
        best = best.min(t.elapsed());
        assert_eq!(v.len(), n);
    }
    eprintln!("randn({n}): {best:?} (best of 3)");
    assert!(
        best < Duration::from_millis(500),
        "randn({n}) took {best:?}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (FIPS 180-4), enough for hashing goldens without another dependency.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes(word.try_into().unwrap());
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, x) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

#[test]
fn sha256_known_answers() {
    assert_eq!(
        hex(&sha256(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex(&sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_eq!(
        hex(&sha256(long)),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
}
