// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Message contents, and their verification.
//!
//! Every message is a fixed template with a *stamp*: a 64-bit word naming the sender (top 8
//! bits) and its sequence number (low 56 bits), written into the message for each send (for
//! raw payloads also a derived word into every further 4 KiB page, so that large blocks are
//! fresh throughout). The receiver reads the stamp, checks that the sequence is the next one
//! of that sender, and checks a checksum over *every* byte (a wrapping sum and an xor of the
//! little-endian 64-bit words) against the template's, corrected for the stamped words. A
//! lost, repeated, reordered, stale or corrupted message is an error.

/// The sequence number of a sender's end marker (the last message of a repeat).
pub const END_SEQ: u64 = (1 << 56) - 1;

/// The stamp of `sender`'s message `seq`.
pub fn stamp_word(sender: u8, seq: u64) -> u64 {
    ((sender as u64) << 56) | (seq & END_SEQ)
}

/// `(sender, seq)` of a stamp.
pub fn split(w: u64) -> (u8, u64) {
    ((w >> 56) as u8, w & END_SEQ)
}

/// Wrapping sum and xor of the little-endian 64-bit words (a short tail is zero-padded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sum {
    /// Wrapping sum.
    pub add: u64,
    /// Xor.
    pub xor: u64,
}

/// The checksum of `b`: reads every byte.
pub fn checksum(b: &[u8]) -> Sum {
    let mut chunks = b.chunks_exact(32);
    let (mut a, mut x) = ([0u64; 4], [0u64; 4]);
    for c in &mut chunks {
        for k in 0..4 {
            let w = u64::from_le_bytes(c[8 * k..8 * k + 8].try_into().unwrap_or_default());
            a[k] = a[k].wrapping_add(w);
            x[k] ^= w;
        }
    }
    let mut s = Sum {
        add: a[0]
            .wrapping_add(a[1])
            .wrapping_add(a[2])
            .wrapping_add(a[3]),
        xor: x[0] ^ x[1] ^ x[2] ^ x[3],
    };
    let rest = chunks.remainder();
    for c in rest.chunks(8) {
        let w = word_of(c);
        s.add = s.add.wrapping_add(w);
        s.xor ^= w;
    }
    s
}

fn word_of(c: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..c.len()].copy_from_slice(c);
    u64::from_le_bytes(w)
}

/// Word `i` (zero-padded) of `b`.
fn word(b: &[u8], i: usize) -> u64 {
    let s = (8 * i).min(b.len());
    word_of(&b[s..(s + 8).min(b.len())])
}

/// Where and how the stamp goes into a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Raw bytes: the stamp at 0 and a word derived from it at every further 4 KiB.
    Raw,
    /// The stamp as 8 raw bytes at an offset (e.g. two `f32` of a list: any bits are valid).
    At(usize),
    /// The stamp as 16 lowercase hex digits at an offset (inside a string: valid UTF-8).
    Hex(usize),
    /// The stamp split into four little-endian `u16` fields at these offsets.
    U16s([usize; 4]),
}

/// A message template with its stamp layout: what senders send and receivers expect.
#[derive(Clone, Debug)]
pub struct Payload {
    /// Name in reports (`raw`, or the schema payload's name).
    pub name: String,
    template: Vec<u8>,
    layout: Layout,
    /// Indices of the words a stamp may change.
    affected: Vec<usize>,
    base: Sum,
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(len);
    v
}

impl Payload {
    /// Raw random bytes of `size` (at least 8).
    pub fn raw(size: usize) -> Payload {
        Self::new(
            "raw",
            noise(size.max(8), size as u64 * 0x9E37_79B9 + 1),
            Layout::Raw,
        )
    }

    /// A template with a stamp layout. Panics if the stamp does not fit.
    pub fn new(name: &str, template: Vec<u8>, layout: Layout) -> Payload {
        let ranges: Vec<(usize, usize)> = match &layout {
            Layout::Raw => (0..template.len())
                .step_by(4096)
                .filter(|o| o + 8 <= template.len())
                .map(|o| (o, 8))
                .collect(),
            Layout::At(o) => vec![(*o, 8)],
            Layout::Hex(o) => vec![(*o, 16)],
            Layout::U16s(os) => os.iter().map(|&o| (o, 2)).collect(),
        };
        assert!(
            !ranges.is_empty() && ranges.iter().all(|&(o, l)| o + l <= template.len()),
            "stamp outside the message"
        );
        let mut affected: Vec<usize> = ranges
            .iter()
            .flat_map(|&(o, l)| o / 8..(o + l).div_ceil(8))
            .collect();
        affected.sort_unstable();
        affected.dedup();
        let base = checksum(&template);
        Payload {
            name: name.to_owned(),
            template,
            layout,
            affected,
            base,
        }
    }

    /// Message length.
    pub fn len(&self) -> usize {
        self.template.len()
    }

    /// Writes stamp `w` into `buf`, a copy of the template.
    pub fn stamp(&self, buf: &mut [u8], w: u64) {
        match &self.layout {
            Layout::Raw => {
                for (k, off) in (0..buf.len()).step_by(4096).enumerate() {
                    if off + 8 <= buf.len() {
                        let v = w ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                        buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
                    }
                }
            }
            Layout::At(o) => buf[*o..*o + 8].copy_from_slice(&w.to_le_bytes()),
            Layout::Hex(o) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for i in 0..16 {
                    buf[o + i] = HEX[((w >> (60 - 4 * i)) & 0xf) as usize];
                }
            }
            Layout::U16s(os) => {
                for (i, &o) in os.iter().enumerate() {
                    buf[o..o + 2].copy_from_slice(&((w >> (16 * i)) as u16).to_le_bytes());
                }
            }
        }
    }

    /// The stamp of a received message; `None` if it cannot be one.
    pub fn read_stamp(&self, m: &[u8]) -> Option<u64> {
        if m.len() != self.template.len() {
            return None;
        }
        match &self.layout {
            Layout::Raw => Some(word(m, 0)),
            Layout::At(o) => Some(u64::from_le_bytes(m[*o..*o + 8].try_into().ok()?)),
            Layout::Hex(o) => {
                u64::from_str_radix(std::str::from_utf8(&m[*o..*o + 16]).ok()?, 16).ok()
            }
            Layout::U16s(os) => {
                let mut w = 0u64;
                for (i, &o) in os.iter().enumerate() {
                    w |= (u16::from_le_bytes([m[o], m[o + 1]]) as u64) << (16 * i);
                }
                Some(w)
            }
        }
    }

    /// `n` back-to-back copies of the template: a sender's buffer.
    pub fn buffer(&self, n: usize) -> Vec<u8> {
        self.template.repeat(n.max(1))
    }
}

/// The receiving side's bookkeeping for one repeat.
#[derive(Debug)]
pub struct Verifier<'a> {
    payload: &'a Payload,
    scratch: Vec<u8>,
    next: Vec<u64>,
    ended: Vec<bool>,
    /// Messages verified so far, end markers included.
    pub count: u64,
    /// Senders whose end marker arrived.
    pub ends: usize,
    /// Stamps repeat with this period (see [`Verifier::cycle`]); 0: they never repeat.
    cycle: u64,
}

impl<'a> Verifier<'a> {
    /// Expects messages from `senders` senders, each numbered 0, 1, ... and then an end marker.
    pub fn new(payload: &'a Payload, senders: usize) -> Self {
        Verifier {
            payload,
            scratch: payload.template.clone(),
            next: vec![0; senders],
            ended: vec![false; senders],
            count: 0,
            ends: 0,
            cycle: 0,
        }
    }

    /// Expects sender `s`'s message `n` to carry sequence `n % cycle` (`None`: `n`): senders
    /// that cycle through a fixed set of `cycle` blocks (the large scenario, where a
    /// descriptor transport names blocks prepared once in a sealed region). Order, loss and
    /// every byte are still checked: the receiver counts the messages itself.
    pub fn cycle(mut self, cycle: Option<u64>) -> Self {
        self.cycle = cycle.unwrap_or(0);
        self
    }

    /// Starts a new repeat.
    pub fn reset(&mut self) {
        self.next.iter_mut().for_each(|n| *n = 0);
        self.ended.iter_mut().for_each(|e| *e = false);
        self.count = 0;
        self.ends = 0;
    }

    /// Whether every sender's end marker arrived.
    pub fn all_ended(&self) -> bool {
        self.ends == self.next.len()
    }

    /// Checks one message: sender, sequence and every byte. Returns whether it was an end marker.
    pub fn check(&mut self, m: &[u8]) -> Result<bool, String> {
        let p = self.payload;
        let w = p.read_stamp(m).ok_or_else(|| {
            format!(
                "message of {} bytes, expected {}, or with a malformed stamp",
                m.len(),
                p.len()
            )
        })?;
        let (id, seq) = split(w);
        let i = id as usize;
        if i >= self.next.len() || self.ended[i] {
            return Err(format!(
                "message from sender {id} (seq {seq}) that does not exist or already ended"
            ));
        }
        let expect = if self.cycle > 0 {
            self.next[i] % self.cycle
        } else {
            self.next[i]
        };
        if seq != END_SEQ && seq != expect {
            return Err(format!("sender {id}: got sequence {seq}, expected {expect}: a message was lost, repeated or reordered"));
        }
        p.stamp(&mut self.scratch, w);
        let mut want = p.base;
        for &k in &p.affected {
            let (t, s) = (word(&p.template, k), word(&self.scratch, k));
            want.add = want.add.wrapping_sub(t).wrapping_add(s);
            want.xor ^= t ^ s;
        }
        let got = checksum(m);
        if got != want {
            return Err(format!("sender {id} seq {seq}: checksum {got:x?} differs from the expected {want:x?}: corrupted or stale bytes"));
        }
        self.count += 1;
        if seq == END_SEQ {
            self.ended[i] = true;
            self.ends += 1;
            return Ok(true);
        }
        self.next[i] += 1;
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(p: &Payload, w: u64) -> Vec<u8> {
        let mut b = p.buffer(1);
        p.stamp(&mut b, w);
        b
    }

    #[test]
    fn stamps_round_trip_in_every_layout() {
        let t = noise(100, 3);
        for layout in [
            Layout::Raw,
            Layout::At(9),
            Layout::Hex(40),
            Layout::U16s([2, 20, 50, 98]),
        ] {
            let p = Payload::new("t", t.clone(), layout.clone());
            let w = stamp_word(3, 0x12_3456_789a_bcde);
            assert_eq!(p.read_stamp(&message(&p, w)), Some(w), "{layout:?}");
        }
    }

    #[test]
    fn verifier_accepts_order_and_refuses_loss_corruption_and_staleness() {
        for size in [8, 64, 3072, 1 << 20] {
            let p = Payload::raw(size);
            let mut v = Verifier::new(&p, 2);
            for seq in 0..3 {
                for id in 0..2 {
                    assert_eq!(v.check(&message(&p, stamp_word(id, seq))), Ok(false));
                }
            }
            assert_eq!(v.check(&message(&p, stamp_word(0, END_SEQ))), Ok(true));
            assert!(!v.all_ended());
            // Loss.
            assert!(v.check(&message(&p, stamp_word(1, 4))).is_err());
            // Corruption anywhere.
            let mut m = message(&p, stamp_word(1, 3));
            let last = m.len() - 1;
            m[last] ^= 1;
            assert!(v.check(&m).is_err());
            // A stale page: the stamp of message 3 in page 0, of message 2 elsewhere.
            if size > 4096 {
                let mut m = message(&p, stamp_word(1, 2));
                m[..8].copy_from_slice(&stamp_word(1, 3).to_le_bytes());
                assert!(v.check(&m).is_err());
            }
            assert_eq!(v.check(&message(&p, stamp_word(1, 3))), Ok(false));
            assert_eq!(v.check(&message(&p, stamp_word(1, END_SEQ))), Ok(true));
            assert!(v.all_ended());
            assert_eq!(v.count, 9);
            // Nothing after the end.
            assert!(v.check(&message(&p, stamp_word(1, 4))).is_err());
        }
    }

    #[test]
    fn a_cycling_verifier_wants_the_blocks_in_turn() {
        let p = Payload::raw(8192);
        let mut v = Verifier::new(&p, 1).cycle(Some(3));
        for seq in [0, 1, 2, 0, 1] {
            assert_eq!(v.check(&message(&p, stamp_word(0, seq))), Ok(false));
        }
        // Block 1 again where block 2 is due: a lost or repeated message.
        assert!(v.check(&message(&p, stamp_word(0, 1))).is_err());
        let mut v = Verifier::new(&p, 1).cycle(Some(3));
        // Sequence 3 never exists in a cycle of 3.
        for seq in [0, 1, 2] {
            assert_eq!(v.check(&message(&p, stamp_word(0, seq))), Ok(false));
        }
        assert!(v.check(&message(&p, stamp_word(0, 3))).is_err());
        assert_eq!(v.check(&message(&p, stamp_word(0, END_SEQ))), Ok(true));
        assert_eq!(v.count, 4);
    }

    #[test]
    fn checksum_covers_the_tail() {
        let a = noise(77, 1);
        let mut b = a.clone();
        b[76] ^= 0x80;
        assert_ne!(checksum(&a), checksum(&b));
        assert_eq!(checksum(&[]), Sum::default());
    }
}
