//! The value types a [`Field`](crate::Field) can carry, and their C encoding.
use std::ffi::{c_int, c_long, c_void};

use crate::raw;

/// Index into the states of an enum/menu field (bi, bo, mbbi, mbbo VAL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnumIndex(pub u16);

mod sealed {
    pub trait Sealed {}
}

/// Raw view of a value for the C side: pointer and element count.
pub(crate) type RawSink<'a> = &'a mut dyn FnMut(*const c_void, u32) -> c_long;

/// A value type that crosses into an EPICS field. Sealed: the set matches
/// the kinds the C shim converts.
pub trait FieldType: sealed::Sealed {
    /// Value read back by [`Field::get`](crate::Field::get).
    type Owned;
    #[doc(hidden)]
    const KIND: c_int;
    #[doc(hidden)]
    const ARRAY: bool;
    #[doc(hidden)]
    const NAME: &'static str;
    #[doc(hidden)]
    fn count(&self) -> usize;
    #[doc(hidden)]
    fn with_raw(&self, sink: RawSink<'_>) -> c_long;
    #[doc(hidden)]
    fn read(capacity: u32, fill: RawFill<'_>) -> (c_long, Self::Owned);
}

/// Reads into a buffer: (pointer, in: capacity / out: count) -> status.
pub(crate) type RawFill<'a> = &'a mut dyn FnMut(*mut c_void, &mut u32) -> c_long;

macro_rules! scalar {
    ($t:ty, $kind:expr, $name:expr, $zero:expr) => {
        impl sealed::Sealed for $t {}
        impl FieldType for $t {
            type Owned = $t;
            const KIND: c_int = $kind;
            const ARRAY: bool = false;
            const NAME: &'static str = $name;
            fn count(&self) -> usize {
                1
            }
            fn with_raw(&self, sink: RawSink<'_>) -> c_long {
                sink((self as *const $t).cast(), 1)
            }
            fn read(_capacity: u32, fill: RawFill<'_>) -> (c_long, $t) {
                let mut v: $t = $zero;
                let mut n = 1;
                let status = fill((&mut v as *mut $t).cast(), &mut n);
                (status, v)
            }
        }
    };
}

scalar!(f64, raw::KIND_DOUBLE, "double", 0.0);
scalar!(i32, raw::KIND_INT32, "long", 0);
scalar!(EnumIndex, raw::KIND_ENUM, "enum", EnumIndex(0));

macro_rules! array {
    ($t:ty, $kind:expr, $name:expr) => {
        impl sealed::Sealed for [$t] {}
        impl FieldType for [$t] {
            type Owned = Vec<$t>;
            const KIND: c_int = $kind;
            const ARRAY: bool = true;
            const NAME: &'static str = $name;
            fn count(&self) -> usize {
                self.len()
            }
            fn with_raw(&self, sink: RawSink<'_>) -> c_long {
                let n = u32::try_from(self.len()).unwrap_or(u32::MAX);
                sink(self.as_ptr().cast(), n)
            }
            fn read(capacity: u32, fill: RawFill<'_>) -> (c_long, Vec<$t>) {
                let mut v: Vec<$t> = vec![Default::default(); capacity as usize];
                let mut n = capacity;
                let status = fill(v.as_mut_ptr().cast(), &mut n);
                v.truncate(n as usize);
                (status, v)
            }
        }
    };
}

array!(f64, raw::KIND_DOUBLE, "double array");
array!(i16, raw::KIND_INT16, "int16 array");
// long strings: a waveform of FTVL UCHAR (clients read it with `$` or as text)
array!(u8, raw::KIND_UINT8, "uint8 array");

/// Packs strings into EPICS' fixed 40-byte cells (truncated, NUL padded).
fn pack_strings<'a>(items: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut buf = Vec::new();
    for s in items {
        let mut cell = [0u8; raw::STRING_SIZE];
        let bytes = truncate_utf8(s, raw::STRING_SIZE - 1).as_bytes();
        cell[..bytes.len()].copy_from_slice(bytes);
        buf.extend_from_slice(&cell);
    }
    buf
}

fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn unpack_strings(buf: &[u8], n: usize) -> Vec<String> {
    buf.chunks(raw::STRING_SIZE)
        .take(n)
        .map(|cell| {
            let end = cell.iter().position(|&b| b == 0).unwrap_or(cell.len());
            String::from_utf8_lossy(&cell[..end]).into_owned()
        })
        .collect()
}

impl sealed::Sealed for str {}
impl FieldType for str {
    type Owned = String;
    const KIND: c_int = raw::KIND_STRING;
    const ARRAY: bool = false;
    const NAME: &'static str = "string";
    fn count(&self) -> usize {
        1
    }
    fn with_raw(&self, sink: RawSink<'_>) -> c_long {
        let buf = pack_strings(std::iter::once(self));
        sink(buf.as_ptr().cast(), 1)
    }
    fn read(_capacity: u32, fill: RawFill<'_>) -> (c_long, String) {
        let mut buf = vec![0u8; raw::STRING_SIZE];
        let mut n = 1;
        let status = fill(buf.as_mut_ptr().cast(), &mut n);
        (status, unpack_strings(&buf, 1).pop().unwrap_or_default())
    }
}

impl sealed::Sealed for [String] {}
impl FieldType for [String] {
    type Owned = Vec<String>;
    const KIND: c_int = raw::KIND_STRING;
    const ARRAY: bool = true;
    const NAME: &'static str = "string array";
    fn count(&self) -> usize {
        self.len()
    }
    fn with_raw(&self, sink: RawSink<'_>) -> c_long {
        let buf = pack_strings(self.iter().map(String::as_str));
        let n = u32::try_from(self.len()).unwrap_or(u32::MAX);
        sink(buf.as_ptr().cast(), n)
    }
    fn read(capacity: u32, fill: RawFill<'_>) -> (c_long, Vec<String>) {
        let mut buf = vec![0u8; raw::STRING_SIZE * capacity as usize];
        let mut n = capacity;
        let status = fill(buf.as_mut_ptr().cast(), &mut n);
        (status, unpack_strings(&buf, n as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_truncated_on_char_boundaries() {
        let long = "é".repeat(30); // 60 bytes
        let packed = pack_strings(std::iter::once(long.as_str()));
        assert_eq!(packed.len(), raw::STRING_SIZE);
        let back = unpack_strings(&packed, 1);
        assert_eq!(back[0], "é".repeat(19)); // 38 bytes <= 39
    }

    #[test]
    fn string_arrays_round_trip() {
        let items = ["BPMZ5D1R", "", "X"];
        let packed = pack_strings(items.iter().copied());
        assert_eq!(unpack_strings(&packed, 3), items);
    }
}
