//! The protobuf wire format, read directly: the OTLP decoders (traces here and in the live
//! twin's receiver, metrics in [`crate::otlp_metrics`]) visit only the fields they need and
//! skip the rest. Errors carry the byte offset.

/// A wire-format problem at a byte offset.
pub(crate) struct Bad(pub(crate) usize, pub(crate) &'static str);

/// One field: number, and its payload.
pub(crate) enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32,
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` in the whole file, for diagnostics.
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    fn at(&self) -> usize {
        self.base + self.pos
    }

    fn varint(&mut self) -> Result<u64, Bad> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or(Bad(self.at(), "truncated varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Bad(self.at(), "varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Bad> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or(Bad(
            self.at(),
            "field runs past the end of its message (truncated?)",
        ))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field, or `None` at the end of the message.
    pub(crate) fn next(&mut self) -> Result<Option<(u64, usize, Field<'a>)>, Bad> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let (num, wire) = (key >> 3, key & 7);
        if num == 0 {
            return Err(Bad(self.at(), "field number 0"));
        }
        let start = self.at();
        let f = match wire {
            0 => Field::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Field::Fixed64(u64::from_le_bytes(a))
            }
            2 => {
                let n = usize::try_from(self.varint()?)
                    .map_err(|_| Bad(self.at(), "length too large"))?;
                let start = self.at();
                return Ok(Some((num, start, Field::Bytes(self.take(n)?))));
            }
            5 => {
                self.take(4)?;
                Field::Fixed32
            }
            _ => {
                return Err(Bad(
                    self.at(),
                    "unsupported wire type (groups are not used by OTLP)",
                ));
            }
        };
        Ok(Some((num, start, f)))
    }
}
