#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| oyez_server::__fuzz::public_key(data));
