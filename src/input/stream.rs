//! A snapshot read from its file a piece at a time, never holding the whole text.
//!
//! serde_json reads fastest from a slice (`from_str`), but a slice of the whole file is the file's size in
//! memory (a gigabyte at the 1M tier) beside the snapshot being made. Its reader over `io::Read`
//! (`from_reader`) holds nothing, but goes byte by byte with line tracking: 1.31x the CPU of the whole
//! `bench read` (BENCHMARKS.md, h42). So this reads the document's outer objects itself (the snapshot and its
//! sections: keys, `:`, `,`, nesting), streaming each object's members and each array's elements, and gives
//! every element of an array, every key and every scalar to serde_json as one slice of a buffer the file is
//! read into. The buffer holds a few MiB (or the largest element, if larger), read again into as the document
//! is passed.
//!
//! Only a success comes from here: whatever fails (a syntax or type error, text that is not UTF-8, a read
//! error) makes [`read`] return `None` and the caller reads the file again as before ([`super::read_text`],
//! `Snapshot::from_json`), so every error message is the one it always was. The one exception is a file
//! larger than the size cap, refused here as [`super::read_text`] would refuse it.

use std::io::Read;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

/// The buffer's first size; it grows only to hold an element larger than this.
const BUFFER: usize = 4 << 20;

/// serde_json's nesting limit (`RecursionLimitExceeded`): an element is read with a limit of its own, so a
/// document nested deeper than this counting the outer levels is left to the whole-text read, which refuses it.
const DEPTH: usize = 127;

/// What stopped a streamed read.
#[derive(Debug)]
pub enum Stop {
    /// More than `limit` bytes: refused as the whole-text read refuses it.
    TooLarge,
    /// Anything else: the whole-text read gives the error.
    Failed,
}

/// Reads `reader` (at most `limit` bytes) as one JSON document of type `T`, through `read_with` (which is
/// given the streaming deserializer: `Snapshot::read_from` for a snapshot).
pub fn read<R: Read, T>(
    reader: R,
    limit: u64,
    read_with: impl FnOnce(&mut Stream<R>) -> Result<T, serde_json::Error>,
) -> Result<T, Stop> {
    read_in(BUFFER, reader, limit, read_with)
}

/// [`read`] with a buffer of `buffer` bytes at first.
fn read_in<R: Read, T>(
    buffer: usize,
    reader: R,
    limit: u64,
    read_with: impl FnOnce(&mut Stream<R>) -> Result<T, serde_json::Error>,
) -> Result<T, Stop> {
    let mut stream = Stream::new(reader, limit, buffer);
    let value = read_with(&mut stream).map_err(|_| stream.stop())?;
    // Nothing but whitespace may follow the document.
    match stream.peek() {
        Ok(None) => Ok(value),
        _ => Err(stream.stop()),
    }
}

/// The document being read: a buffer over `reader`, `buf[pos..end]` read and not yet parsed.
pub struct Stream<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    /// Bytes read so far, and the most that may be.
    read: u64,
    limit: u64,
    too_large: bool,
    /// Objects and arrays open around the position.
    depth: usize,
}

fn failed(what: &str) -> serde_json::Error {
    de::Error::custom(what)
}

impl<R: Read> Stream<R> {
    fn new(reader: R, limit: u64, buffer: usize) -> Self {
        Stream {
            reader,
            buf: vec![0; buffer.max(1)],
            pos: 0,
            end: 0,
            eof: false,
            read: 0,
            limit,
            too_large: false,
            depth: 0,
        }
    }

    fn stop(&self) -> Stop {
        if self.too_large {
            Stop::TooLarge
        } else {
            Stop::Failed
        }
    }

    /// Reads more of the file after `buf[..end]`, first moving the unparsed bytes to the front (and growing the
    /// buffer if they fill it). False at the end of the file.
    fn fill(&mut self) -> Result<bool, serde_json::Error> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(serde_json::Error::io(e)),
            }
        };
        self.read += n as u64;
        if self.read > self.limit {
            self.too_large = true;
            return Err(failed("larger than the input size limit"));
        }
        self.end += n;
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// The next byte that is not JSON whitespace, not consumed; `None` at the end of the file.
    fn peek(&mut self) -> Result<Option<u8>, serde_json::Error> {
        loop {
            while self.pos < self.end {
                match self.buf[self.pos] {
                    b' ' | b'\n' | b'\t' | b'\r' => self.pos += 1,
                    b => return Ok(Some(b)),
                }
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Consumes `byte` as the next byte that is not whitespace.
    fn expect(&mut self, byte: u8) -> Result<(), serde_json::Error> {
        match self.peek()? {
            Some(b) if b == byte => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(failed("unexpected byte")),
        }
    }

    /// The next value's text, consumed: read in whole (the buffer filled or grown until it holds it) and checked
    /// to be UTF-8. To the end of the file if the value does not end before it (serde_json then says why).
    fn value(&mut self) -> Result<&str, serde_json::Error> {
        self.peek()?;
        let end = loop {
            match value_end(&self.buf[self.pos..self.end]) {
                Some((len, depth)) => {
                    if self.depth + depth > DEPTH {
                        return Err(failed("nested too deeply to read in pieces"));
                    }
                    break self.pos + len;
                }
                None if self.fill()? => {}
                None => break self.end,
            }
        };
        let start = std::mem::replace(&mut self.pos, end);
        std::str::from_utf8(&self.buf[start..end]).map_err(|_| failed("not UTF-8"))
    }

    /// The next value, read by serde_json from its text with `read` (the caller's `deserialize_*`).
    fn delegate<'de, V: Visitor<'de>>(
        &mut self,
        visitor: V,
        read: impl for<'t> FnOnce(
            Detached<'de, 't, &mut serde_json::Deserializer<serde_json::de::StrRead<'t>>>,
            V,
        ) -> Result<V::Value, serde_json::Error>,
    ) -> Result<V::Value, serde_json::Error> {
        let text = self.value()?;
        let mut json = serde_json::Deserializer::from_str(text);
        let value = read(Detached::new(&mut json), visitor)?;
        json.end()?;
        Ok(value)
    }

    /// The object that starts here, its members streamed to `visitor`.
    fn object<'de, V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value, serde_json::Error> {
        self.expect(b'{')?;
        self.depth += 1;
        let mut access = Members { stream: self, first: true, closed: false };
        let value = visitor.visit_map(&mut access)?;
        if !access.closed {
            self.expect(b'}')?;
        }
        self.depth -= 1;
        Ok(value)
    }

    /// The array that starts here, its elements given to `visitor` one at a time.
    fn array<'de, V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value, serde_json::Error> {
        self.expect(b'[')?;
        self.depth += 1;
        let mut access = Elements { stream: self, first: true, closed: false };
        let value = visitor.visit_seq(&mut access)?;
        if !access.closed {
            self.expect(b']')?;
        }
        self.depth -= 1;
        Ok(value)
    }

    /// Before an object's next member or an array's next element: the `,` after the one before, or the
    /// closing `close`. False when closed.
    fn next_item(&mut self, first: &mut bool, close: u8) -> Result<bool, serde_json::Error> {
        match self.peek()? {
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            Some(b',') if !*first => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) if *first => {
                *first = false;
                Ok(true)
            }
            _ => Err(failed("expected `,` or the end of the object or array")),
        }
    }
}

/// Where the JSON value at the start of `text` ends, and how deeply it nests; `None` if `text` ends first.
/// Only finds the end: whether the value is well-formed is serde_json's to say, given exactly these bytes.
fn value_end(text: &[u8]) -> Option<(usize, usize)> {
    match text.first()? {
        b'"' => string_end(text, 1).map(|end| (end, 0)),
        b'{' | b'[' => {
            let (mut depth, mut deepest, mut at) = (0usize, 0usize, 0usize);
            loop {
                at = find(text, at, |w| {
                    // `[` and `]` are `{` and `}` with bit 5 clear: one test finds both.
                    let w = w | 0x2020_2020_2020_2020;
                    bytes_equal(w, b'"') | bytes_equal(w, b'{') | bytes_equal(w, b'}')
                })?;
                match text[at] {
                    b'"' => {
                        at = string_end(text, at + 1)?;
                        continue;
                    }
                    b'{' | b'[' => {
                        depth += 1;
                        deepest = deepest.max(depth);
                    }
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some((at + 1, deepest));
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        // A number or a literal: up to the next byte that cannot be part of one.
        _ => text
            .iter()
            .position(|b| matches!(b, b' ' | b'\n' | b'\t' | b'\r' | b',' | b'}' | b']' | b':' | b'{' | b'[' | b'"'))
            .map(|end| (end, 0)),
    }
}

/// The end of a string whose text starts at `from` (just after its opening quote): just after the closing one.
fn string_end(text: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let at = find(text, from, |w| bytes_equal(w, b'"') | bytes_equal(w, b'\\'))?;
        if text[at] == b'"' {
            return Some(at + 1);
        }
        from = at + 2;
    }
}

/// The first byte at or after `from` that `hits` marks (eight at a time: the high bit of each byte of a word
/// read little-endian, the lowest one exact), `None` if there is none.
fn find(text: &[u8], mut from: usize, hits: impl Fn(u64) -> u64) -> Option<usize> {
    while let Some(word) = text.get(from..from + 8) {
        let marked = hits(u64::from_le_bytes(word.try_into().expect("eight bytes")));
        if marked != 0 {
            return Some(from + (marked.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    let mut tail = [b' '; 8];
    let rest = text.get(from..)?;
    tail[..rest.len()].copy_from_slice(rest);
    let marked = hits(u64::from_le_bytes(tail));
    // Past `rest` the padding is spaces, which no caller marks.
    Some(from + (marked.trailing_zeros() / 8) as usize).filter(|_| marked != 0)
}

/// The high bit of each byte of `word` that equals `byte` (exact up to the first such byte; above it, a byte
/// one more than `byte` may be marked too, which [`find`] never reads).
fn bytes_equal(word: u64, byte: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let zero_where_equal = word ^ (ONES * u64::from(byte));
    zero_where_equal.wrapping_sub(ONES) & !zero_where_equal & (ONES << 7)
}

/// An object's members, streamed.
struct Members<'a, R> {
    stream: &'a mut Stream<R>,
    first: bool,
    closed: bool,
}

impl<'de, R: Read> de::MapAccess<'de> for Members<'_, R> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, serde_json::Error> {
        if self.closed || !self.stream.next_item(&mut self.first, b'}')? {
            self.closed = true;
            return Ok(None);
        }
        if self.stream.peek()? != Some(b'"') {
            return Err(failed("expected a key"));
        }
        let key = self.stream.delegate(Seeded(seed), |de, seed| seed.0.deserialize(de))?;
        self.stream.expect(b':')?;
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, serde_json::Error> {
        seed.deserialize(&mut *self.stream)
    }
}

/// An array's elements, each read by serde_json from its own slice.
struct Elements<'a, R> {
    stream: &'a mut Stream<R>,
    first: bool,
    closed: bool,
}

impl<'de, R: Read> de::SeqAccess<'de> for Elements<'_, R> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, serde_json::Error> {
        if self.closed || !self.stream.next_item(&mut self.first, b']')? {
            self.closed = true;
            return Ok(None);
        }
        self.stream.delegate(Seeded(seed), |de, seed| seed.0.deserialize(de)).map(Some)
    }
}

/// A seed passed where [`Stream::delegate`] takes a visitor (only carried, never visited).
struct Seeded<S>(S);

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Seeded<S> {
    type Value = S::Value;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a value")
    }
}

macro_rules! delegated {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, serde_json::Error> {
            self.delegate(visitor, |de, v| de.$method($($arg,)* v))
        }
    )*};
}

/// Objects and arrays are streamed when the type reads them as such (a struct, a map, a sequence, or anything);
/// every other value is read by serde_json from its slice, as the same call.
impl<'de, R: Read> Deserializer<'de> for &mut Stream<R> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
        match self.peek()? {
            Some(b'{') => self.object(visitor),
            Some(b'[') => self.array(visitor),
            _ => self.delegate(visitor, |de, v| de.deserialize_any(v)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
        match self.peek()? {
            Some(b'{') => self.object(visitor),
            _ => self.delegate(visitor, |de, v| de.deserialize_map(v)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        match self.peek()? {
            Some(b'{') => self.object(visitor),
            _ => self.delegate(visitor, |de, v| de.deserialize_struct(name, fields, v)),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
        match self.peek()? {
            Some(b'[') => self.array(visitor),
            _ => self.delegate(visitor, |de, v| de.deserialize_seq(v)),
        }
    }

    delegated! {
        deserialize_bool(); deserialize_i8(); deserialize_i16(); deserialize_i32(); deserialize_i64();
        deserialize_i128(); deserialize_u8(); deserialize_u16(); deserialize_u32(); deserialize_u64();
        deserialize_u128(); deserialize_f32(); deserialize_f64(); deserialize_char(); deserialize_str();
        deserialize_string(); deserialize_bytes(); deserialize_byte_buf(); deserialize_option();
        deserialize_unit(); deserialize_identifier();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }
}

/// A serde value of lifetime `'b` (a deserializer of a slice of the buffer, or what it hands its visitors) used
/// where one of any lifetime `'de` is wanted: text it would lend (`visit_borrowed_str`) is given as transient
/// (`visit_str`), which every snapshot type takes, since the buffer is read into again after each element.
pub struct Detached<'de, 'b, T>(T, Lifetimes<'de, 'b>);

/// The two lifetimes a [`Detached`] stands between.
type Lifetimes<'de, 'b> = PhantomData<(fn(&'de ()), fn(&'b ()))>;

impl<T> Detached<'_, '_, T> {
    fn new(inner: T) -> Self {
        Detached(inner, PhantomData)
    }
}

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method($($arg,)* Detached::new(visitor))
        }
    )*};
}

impl<'de, 'b, D: Deserializer<'b>> Deserializer<'de> for Detached<'de, 'b, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any(); deserialize_bool(); deserialize_i8(); deserialize_i16(); deserialize_i32();
        deserialize_i64(); deserialize_i128(); deserialize_u8(); deserialize_u16(); deserialize_u32();
        deserialize_u64(); deserialize_u128(); deserialize_f32(); deserialize_f64(); deserialize_char();
        deserialize_str(); deserialize_string(); deserialize_bytes(); deserialize_byte_buf();
        deserialize_option(); deserialize_unit(); deserialize_seq(); deserialize_map();
        deserialize_identifier(); deserialize_ignored_any();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.0.$method(v)
        }
    )*};
}

impl<'de, 'b, V: Visitor<'de>> Visitor<'b> for Detached<'de, 'b, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.expecting(f)
    }

    forward_visit! {
        visit_bool(bool); visit_i8(i8); visit_i16(i16); visit_i32(i32); visit_i64(i64); visit_i128(i128);
        visit_u8(u8); visit_u16(u16); visit_u32(u32); visit_u64(u64); visit_u128(u128); visit_f32(f32);
        visit_f64(f64); visit_char(char); visit_str(&str); visit_string(String); visit_bytes(&[u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'b str) -> Result<V::Value, E> {
        self.0.visit_str(v)
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'b [u8]) -> Result<V::Value, E> {
        self.0.visit_bytes(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'b>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(Detached::new(d))
    }

    fn visit_newtype_struct<D: Deserializer<'b>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(Detached::new(d))
    }

    fn visit_seq<A: de::SeqAccess<'b>>(self, a: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(Detached::new(a))
    }

    fn visit_map<A: de::MapAccess<'b>>(self, a: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Detached::new(a))
    }

    fn visit_enum<A: de::EnumAccess<'b>>(self, a: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(Detached::new(a))
    }
}

impl<'de, 'b, S: DeserializeSeed<'de>> DeserializeSeed<'b> for Detached<'de, 'b, S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'b>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Detached::new(d))
    }
}

impl<'de, 'b, A: de::SeqAccess<'b>> de::SeqAccess<'de> for Detached<'de, 'b, A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Detached::new(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, 'b, A: de::MapAccess<'b>> de::MapAccess<'de> for Detached<'de, 'b, A> {
    type Error = A::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Detached::new(seed))
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(Detached::new(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, 'b, A: de::EnumAccess<'b>> de::EnumAccess<'de> for Detached<'de, 'b, A> {
    type Error = A::Error;
    type Variant = Detached<'de, 'b, A::Variant>;
    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self::Variant), A::Error> {
        self.0.variant_seed(Detached::new(seed)).map(|(value, variant)| (value, Detached::new(variant)))
    }
}

impl<'de, 'b, A: de::VariantAccess<'b>> de::VariantAccess<'de> for Detached<'de, 'b, A> {
    type Error = A::Error;
    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.0.newtype_variant_seed(Detached::new(seed))
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Detached::new(visitor))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Detached::new(visitor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azpath_graph::snapshot::Snapshot;

    const SNAPSHOTS: [&str; 2] = [
        include_str!("../../graph/tests/fixtures/generated-300.json"),
        include_str!("../../tests/fixtures/snapshots/demo.json"),
    ];

    fn streamed(buffer: usize, text: &[u8], limit: u64) -> Result<Snapshot, Stop> {
        read_in(buffer, text, limit, |s| Snapshot::read_from(s))
    }

    #[test]
    fn a_streamed_snapshot_equals_the_one_read_from_its_whole_text() {
        for text in SNAPSHOTS {
            let whole = Snapshot::from_json(text, "s.json").unwrap().to_json();
            // Buffers smaller than a key, than an element, and larger than the document: every refill path.
            for buffer in [1, 2, 3, 7, 64, 1000, 1 << 20] {
                let snap = streamed(buffer, text.as_bytes(), u64::MAX).unwrap();
                assert!(snap.to_json() == whole, "buffer {buffer}");
            }
            // Compact JSON (no whitespace at all) reads the same.
            let compact = serde_json::to_string(&Snapshot::from_json(text, "s.json").unwrap()).unwrap();
            assert!(streamed(5, compact.as_bytes(), u64::MAX).unwrap().to_json() == whole);
        }
    }

    #[test]
    fn the_size_cap_is_kept_while_streaming() {
        let text = SNAPSHOTS[1].as_bytes();
        assert!(streamed(64, text, text.len() as u64).is_ok());
        assert!(matches!(streamed(64, text, text.len() as u64 - 1), Err(Stop::TooLarge)));
        let zeros = std::io::repeat(0).take(10_000);
        assert!(matches!(read_in(64, zeros, 1000, |s| Snapshot::read_from(s)), Err(Stop::TooLarge)));
    }

    #[test]
    fn whatever_the_whole_text_read_refuses_is_not_read_by_streaming() {
        let ok = r#"{"schema_version":1,"metadata":{"collected_at":""},"azure":{"roleAssignments":[]}}"#;
        assert!(streamed(4, ok.as_bytes(), u64::MAX).is_ok());
        let bad: [&[u8]; 19] = [
            b"",
            b"   ",
            br#"{"schema_version":1}"#,
            br#"{"schema_version":1,"metadata":{"collected_at":""}} x"#,
            br#"{"schema_version":1,"metadata":{"collected_at":""}}{}"#,
            br#"{"schema_version":1,"metadata":{"collected_at":""},}"#,
            br#",{"schema_version":1,"metadata":{"collected_at":""}}"#,
            br#"{"schema_version":1 "metadata":{"collected_at":""}}"#,
            br#"{"schema_version":1,"metadata"{"collected_at":""}}"#,
            br#"{"schema_version":1,"metadata":{"collected_at":""},"azure":{"roleAssignments":[,]}}"#,
            br#"{"schema_version":1,"metadata":{"collected_at":""},"azure":{"roleAssignments":[{"id":"a"},]}}"#,
            br#"{"schema_version":1,"metadata":{"collected_at":""},"azure":{"roleAssignments":[{"id":"a"}{"id":"b"}]}}"#,
            br#"{"schema_version":1,"metadata":{"collected_at":""},"azure":{"roleAssignments":[{"id":5}]}}"#,
            br#"{"schema_version":1,"metadata":{"collected_at":""},"azure":{"roleAssignments":[{"id":"a"}"#,
            br#"{"schema_version":1x,"metadata":{"collected_at":""}}"#,
            br#"{"schema_version":1,"metadata":{"collected_at":"\xff"}}"#,
            b"{\"schema_version\":1,\"metadata\":{\"collected_at\":\"\xff\"}}",
            b"{\"schema_version\":1,\"metadata\":{\"collected_at\":\"\"}}\n\xc3",
            br#"{"schema_version":1,"metadata":{"collected_at":""},"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
        ];
        for (i, text) in bad.iter().enumerate() {
            assert!(
                std::str::from_utf8(text).is_err()
                    || Snapshot::from_json(std::str::from_utf8(text).unwrap(), "s").is_err(),
                "case {i} reads whole"
            );
            for buffer in [1, 3, 1 << 20] {
                assert!(matches!(streamed(buffer, text, u64::MAX), Err(Stop::Failed)), "case {i}, buffer {buffer}");
            }
        }
    }

    #[test]
    fn value_ends_are_found_past_strings_and_nesting() {
        let end = |t: &str| value_end(t.as_bytes());
        assert_eq!(end(r#""a\"b" ,"#), Some((6, 0)));
        assert_eq!(end(r#""a\\"b"#), Some((5, 0)));
        assert_eq!(end(r#"{"k":["]}\"",{"x":1}],"l":"{"} rest"#), Some((30, 3)));
        assert_eq!(end("[[1,2],[3]]"), Some((11, 2)));
        assert_eq!(end("12.5e3,"), Some((6, 0)));
        assert_eq!(end("true}"), Some((4, 0)));
        for incomplete in [r#""abc"#, r#""ab\"#, "[1,[2]", r#"{"a":"}"#, "123", "[", ""] {
            assert_eq!(end(incomplete), None, "{incomplete}");
        }
        // Words of eight and what is left over: every position of a quote.
        for at in 0..20 {
            let text = format!("\"{}\"{}", "x".repeat(at), " ".repeat(20));
            assert_eq!(end(&text), Some((at + 2, 0)));
        }
    }
}
