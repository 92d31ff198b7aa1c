#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| oyez_envelope::__fuzz::tina4(data));
