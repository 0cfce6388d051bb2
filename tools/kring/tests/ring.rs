// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Host tests of `src/ring.rs`, the geometry, index math and validation the module runs on
//! every request. Property tests check the invariants over the whole input space.

use kring::ring::*;
use kring::uapi::*;
use proptest::prelude::*;

const PAGE: u64 = 4096;

#[test]
fn geometry_accepts_the_documented_ranges() {
    for shift in 0..=15 {
        let g = Geometry::new(1 << shift, 1, PAGE).unwrap();
        assert_eq!(g.ring_size, 1 << shift);
        assert_eq!(g.mask(), (1 << shift) - 1);
    }
    assert!(Geometry::new(32768, KRING_MSG_SIZE_MAX, PAGE).is_ok());
}

#[test]
fn geometry_rejects_everything_else() {
    for rs in [0, 3, 6, 100, 32767, 65536, u32::MAX] {
        assert_eq!(Geometry::new(rs, 64, PAGE), Err(ArgError::Invalid), "ring_size {rs}");
    }
    for ms in [0, KRING_MSG_SIZE_MAX + 1, u32::MAX] {
        assert_eq!(Geometry::new(8, ms, PAGE), Err(ArgError::Invalid), "max_msg_size {ms}");
    }
    assert_eq!(Geometry::new(8, 8, 0), Err(ArgError::Invalid));
    assert_eq!(Geometry::new(8, 8, 3000), Err(ArgError::Invalid));
}

#[test]
fn geometry_example() {
    let g = Geometry::new(16, 100, PAGE).unwrap();
    assert_eq!(g.slot_size, 104);
    assert_eq!(g.entries_len, PAGE); // 4 * 16 * 32 = 2048
    assert_eq!(g.payload_len, PAGE); // 16 * 104 = 1664
    assert_eq!(g.queue_bytes(), 4 * PAGE);
    assert_eq!(g.sq_data_offset, PAGE); // 256 * 16 = 4096
    assert_eq!(g.sq_data_size, 64 * 1024);
    assert_eq!(g.submit_len, PAGE + 64 * 1024);
    assert_eq!(g.entry_offset(0, 0), Some(0));
    assert_eq!(g.entry_offset(1, 0), Some(16 * 32));
    assert_eq!(g.entry_offset(3, 17), Some((3 * 16 + 1) * 32));
    assert_eq!(g.entry_offset(4, 0), None);
    assert_eq!(g.slot_offset(15), Some(15 * 104));
    assert_eq!(g.slot_offset(16), None);
}

#[test]
fn names() {
    let mut f = [0u8; KRING_NAME_MAX];
    assert_eq!(parse_name(&f), Ok(None));
    f[..5].copy_from_slice(b"jobs1");
    assert_eq!(parse_name(&f), Ok(Some(&b"jobs1"[..])));
    f[2] = b'/';
    assert_eq!(parse_name(&f), Err(ArgError::BadName));
    let full = [b'a'; KRING_NAME_MAX];
    assert_eq!(parse_name(&full), Err(ArgError::BadName), "no NUL");
    let mut longest = [b'a'; KRING_NAME_MAX];
    longest[KRING_NAME_MAX - 1] = 0;
    assert_eq!(parse_name(&longest).unwrap().unwrap().len(), KRING_NAME_MAX - 1);
}

#[test]
fn permissions_follow_posix_classes() {
    let (s, r) = (KRING_RIGHT_SEND, KRING_RIGHT_RECV);
    assert!(mode_allows(0o600, true, false, s | r));
    assert!(!mode_allows(0o600, false, true, s));
    assert!(!mode_allows(0o600, false, false, r));
    assert!(mode_allows(0o620, false, true, s));
    assert!(!mode_allows(0o620, false, true, r));
    assert!(mode_allows(0o604, false, false, r));
    assert!(!mode_allows(0o604, false, false, s));
    // Owner class is used even when it is more restrictive than others (POSIX).
    assert!(!mode_allows(0o066, true, true, s));
}

#[test]
fn rights_priorities_modes() {
    assert!(!valid_rights(0));
    assert!(valid_rights(KRING_RIGHT_SEND));
    assert!(valid_rights(KRING_RIGHTS_ALL));
    assert!(!valid_rights(4));
    assert!((0..=3).all(valid_priority));
    assert!(!valid_priority(4) && !valid_priority(255));
    assert!(valid_mode(0o777) && !valid_mode(0o1000));
}

#[test]
fn next_priority_is_highest_nonempty() {
    assert_eq!(next_priority(&[0; 4], &[0; 4]), None);
    assert_eq!(next_priority(&[0; 4], &[1, 0, 0, 0]), Some(0));
    assert_eq!(next_priority(&[0; 4], &[1, 1, 0, 1]), Some(3));
    assert_eq!(next_priority(&[5, 5, 5, 5], &[6, 7, 5, 5]), Some(1));
    // Wrapped indices.
    assert_eq!(next_priority(&[u32::MAX; 4], &[0, u32::MAX, u32::MAX, u32::MAX]), Some(0));
}

fn sqe(offset: u32, len: u32, priority: u8) -> KringSqe {
    KringSqe { offset, len, priority, flags: 0, reserved: 0, reserved2: 0 }
}

#[test]
fn sqe_validation() {
    assert_eq!(check_sqe(&sqe(0, 10, 1), 100, 50), Ok((0, 10)));
    assert_eq!(check_sqe(&sqe(90, 10, 3), 100, 50), Ok((90, 100)));
    assert_eq!(check_sqe(&sqe(91, 10, 3), 100, 50), Err(ArgError::Invalid));
    assert_eq!(check_sqe(&sqe(0, 51, 0), 100, 50), Err(ArgError::TooLarge));
    assert_eq!(check_sqe(&sqe(u32::MAX, 1, 0), 100, 50), Err(ArgError::Invalid));
    assert_eq!(check_sqe(&sqe(0, 1, 4), 100, 50), Err(ArgError::Invalid));
    let mut bad = sqe(0, 1, 0);
    bad.reserved2 = 1;
    assert_eq!(check_sqe(&bad, 100, 50), Err(ArgError::Invalid));
}

proptest! {
    #[test]
    fn geometry_is_total_and_consistent(rs in any::<u32>(), ms in any::<u32>()) {
        if let Ok(g) = Geometry::new(rs, ms, PAGE) {
            prop_assert!(rs.is_power_of_two() && rs <= KRING_RING_SIZE_MAX && (1..=KRING_MSG_SIZE_MAX).contains(&ms));
            prop_assert!(g.slot_size >= ms && g.slot_size % SLOT_ALIGN == 0);
            prop_assert_eq!(g.payload_len % PAGE, 0);
            prop_assert_eq!(g.entries_len % PAGE, 0);
            prop_assert!(g.payload_len >= rs as u64 * g.slot_size as u64);
            // Every slot and every entry lies inside its area.
            let last_slot = g.slot_offset(rs - 1).unwrap();
            prop_assert!(last_slot + g.slot_size as u64 <= g.payload_len);
            let last_entry = g.entry_offset(KRING_NR_PRIO - 1, u32::MAX).unwrap();
            prop_assert!(last_entry + 32 <= g.entries_len);
            prop_assert!(g.sq_data_size >= ms);
            prop_assert_eq!(g.submit_len, g.sq_data_offset + g.sq_data_size as u64);
        }
    }

    #[test]
    fn accepted_heads_stay_between_khead_and_tail(khead in any::<u32>(), len in 0u32..=32768, user in any::<u32>()) {
        let tail = khead.wrapping_add(len);
        match accept_head(khead, user, tail) {
            Some(h) => {
                prop_assert_eq!(h, user);
                // Never past the tail, never backwards: the new length is within the old one.
                prop_assert!(ring_len(h, tail) <= len);
                prop_assert!(ring_len(khead, h) <= len);
            }
            None => prop_assert!(user.wrapping_sub(khead) > len),
        }
    }

    #[test]
    fn sqe_ranges_are_inside_the_buffer(off in any::<u32>(), len in any::<u32>(), p in any::<u8>(), size in 0u32..(1 << 21), max in 1u32..=(1 << 20)) {
        if let Ok((a, b)) = check_sqe(&sqe(off, len, p), size, max) {
            prop_assert!(a <= b && b <= size && b - a == len && len <= max && p <= 3);
        }
    }

    #[test]
    fn next_priority_never_picks_under_a_nonempty_higher_ring(heads in any::<[u32; 4]>(), lens in any::<[u8; 4]>()) {
        let tails = [0, 1, 2, 3].map(|i| heads[i].wrapping_add(lens[i] as u32));
        match next_priority(&heads, &tails) {
            None => prop_assert!(lens.iter().all(|&l| l == 0)),
            Some(p) => {
                prop_assert!(lens[p] > 0);
                prop_assert!(lens[p + 1..].iter().all(|&l| l == 0));
            }
        }
    }
}

#[test]
fn descriptor_rules() {
    use kring::ring::{check_descriptor, DescError};
    let (imm, app, slab) = (KRING_REGION_IMMUTABLE, KRING_REGION_APPEND_ONLY, KRING_REGION_SLAB);
    assert_eq!(check_descriptor(imm, 100, 100, 0, 100), Ok(()));
    assert_eq!(check_descriptor(imm, 100, 0, 0, 1), Err(DescError::NotStable), "unsealed");
    assert_eq!(check_descriptor(app, 100, 50, 10, 40), Ok(()));
    assert_eq!(check_descriptor(app, 100, 50, 10, 41), Err(DescError::NotStable), "past the watermark");
    assert_eq!(check_descriptor(slab, 100, 100, 0, 1), Err(DescError::Slab));
    assert_eq!(check_descriptor(imm, 100, 100, 0, 0), Err(DescError::Range));
    assert_eq!(check_descriptor(imm, 100, 100, 99, 2), Err(DescError::Range));
    assert_eq!(check_descriptor(imm, 100, 100, u64::MAX, 2), Err(DescError::Range));
    assert_eq!(check_descriptor(7, 100, 100, 0, 1), Err(DescError::Slab), "unknown policies are never stable");
}

#[test]
fn region_sizes() {
    let c = |policy, size, max_size, slot_size, slot_count| KringRegionCreate { policy, flags: 0, size, max_size, slot_size, slot_count };
    assert_eq!(region_size(&c(KRING_REGION_IMMUTABLE, 10, 0, 0, 0), 100), Ok(10));
    assert_eq!(region_size(&c(KRING_REGION_APPEND_ONLY, 0, 20, 0, 0), 100), Ok(20));
    assert_eq!(region_size(&c(KRING_REGION_SLAB, 0, 0, 3, 7), 100), Ok(21));
    assert_eq!(region_size(&c(KRING_REGION_SLAB, 0, 0, 3, 70), 100), Err(ArgError::TooLarge));
    assert_eq!(region_size(&c(KRING_REGION_IMMUTABLE, 10, 1, 0, 0), 100), Err(ArgError::Invalid), "unused field set");
    assert_eq!(region_size(&c(KRING_REGION_IMMUTABLE, 0, 0, 0, 0), 100), Err(ArgError::Invalid));
    assert_eq!(region_size(&c(3, 10, 0, 0, 0), 100), Err(ArgError::Invalid));
    assert_eq!(region_size(&c(KRING_REGION_SLAB, 0, 0, u32::MAX, u32::MAX), u64::MAX), Ok(u32::MAX as u64 * u32::MAX as u64));
}

proptest! {
    #[test]
    fn accepted_descriptors_lie_in_stable_bytes(policy in 0u32..4, size in 0u64..10_000, stable_frac in 0u64..=100, offset in any::<u64>(), length in any::<u32>()) {
        let stable = size * stable_frac / 100;
        if kring::ring::check_descriptor(policy, size, stable, offset, length).is_ok() {
            prop_assert!(policy == KRING_REGION_IMMUTABLE || policy == KRING_REGION_APPEND_ONLY);
            prop_assert!(length > 0);
            prop_assert!(offset + length as u64 <= stable && stable <= size);
        }
    }
}
