//! The tail of a conversation's thread in chunks, so that a write costs the same at any
//! length: the native twin of `processor/domain/thread_tail.py` (the reference).
//!
//! The tail holds the marks an event inside the allowed lateness could still reorder. The
//! conversation's document keeps the open chunk (at most `CHUNK_MARKS` marks when appended
//! in order) and a reference per closed chunk; a closed chunk is its own record, written
//! when it closes and rewritten only when a mark out of order lands in it. Closed chunk i
//! holds the marks from its first key up to the next chunk's first key; the open chunk
//! holds the marks from its first key on.

use std::cmp::Ordering;

use crate::thread::{Mark, MarkKey};

pub const CHUNK_MARKS: usize = 16;

/// Where a conversation's closed chunks live (the worker: a table in the changelog).
pub trait ChunkStore {
    fn read(&self, number: i64) -> Vec<Mark>;
    fn write(&mut self, number: i64, marks: &[Mark]);
    fn delete(&mut self, number: i64);
}

/// A closed chunk's reference in the document: its first mark, number and size.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkRef {
    pub first: Mark,
    pub number: i64,
    pub marks: usize,
}

/// The closed chunks' references, the next chunk's number and the open chunk.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tail {
    pub chunks: Vec<ChunkRef>,
    pub next_chunk: i64,
    pub open: Vec<Mark>,
}

/// `a < b` in the walk's order (marks are never NaN: event times are finite).
fn before(a: &MarkKey, b: &MarkKey) -> bool {
    a.partial_cmp(b) == Some(Ordering::Less)
}

/// Where `mark` goes among sorted `marks`: after every mark not after it (Python's
/// `bisect.insort` with the mark's key).
fn insert_sorted(marks: &mut Vec<Mark>, mark: Mark) {
    let key = mark.key();
    let index = marks.partition_point(|held| !before(&key, &held.key()));
    marks.insert(index, mark);
}

impl Tail {
    /// Every mark of the tail in walk order (reads the closed chunks).
    pub fn marks(&self, store: &dyn ChunkStore) -> Vec<Mark> {
        let mut all = Vec::new();
        for chunk in &self.chunks {
            all.extend(store.read(chunk.number));
        }
        all.extend(self.open.iter().cloned());
        all
    }

    /// A mark after every mark of the tail; the open chunk closes when it is full.
    pub fn append(&mut self, mark: Mark, store: &mut dyn ChunkStore) {
        self.open.push(mark);
        if self.open.len() >= CHUNK_MARKS {
            self.close(store);
        }
    }

    fn close(&mut self, store: &mut dyn ChunkStore) {
        let number = self.next_chunk;
        self.next_chunk += 1;
        store.write(number, &self.open);
        let open = std::mem::take(&mut self.open);
        let marks = open.len();
        let first = open.into_iter().next().expect("a closed chunk holds marks");
        self.chunks.push(ChunkRef {
            first,
            number,
            marks,
        });
    }

    /// A mark anywhere in the tail.
    pub fn insert(&mut self, mark: Mark, store: &mut dyn ChunkStore) {
        let key = mark.key();
        let in_open = match self.open.first() {
            _ if self.chunks.is_empty() => true,
            Some(first) => !before(&key, &first.key()),
            None => false,
        };
        if in_open {
            insert_sorted(&mut self.open, mark);
            if self.open.len() >= 2 * CHUNK_MARKS {
                self.close(store);
            }
            return;
        }
        // The last chunk whose first key is not after the mark (the first chunk if none).
        let after = self
            .chunks
            .partition_point(|chunk| !before(&key, &chunk.first.key()));
        let index = after.saturating_sub(1);
        let number = self.chunks[index].number;
        let mut held = store.read(number);
        insert_sorted(&mut held, mark);
        if held.len() <= 2 * CHUNK_MARKS {
            store.write(number, &held);
            self.chunks[index] = ChunkRef {
                first: held[0].clone(),
                number,
                marks: held.len(),
            };
            return;
        }
        let half = held.len() / 2;
        let split = self.next_chunk;
        self.next_chunk += 1;
        store.write(number, &held[..half]);
        store.write(split, &held[half..]);
        let upper = ChunkRef {
            first: held[half].clone(),
            number: split,
            marks: held.len() - half,
        };
        self.chunks[index] = ChunkRef {
            first: held[0].clone(),
            number,
            marks: half,
        };
        self.chunks.insert(index + 1, upper);
    }

    /// Step the marks older than `watermark` that may leave the tail, in order, and drop
    /// them: a closed chunk once the next chunk starts before the watermark, the open
    /// chunk's old marks once no closed chunk is left before them.
    pub fn settle(
        &mut self,
        watermark: f64,
        store: &mut dyn ChunkStore,
        step: &mut dyn FnMut(&Mark),
    ) {
        while !self.chunks.is_empty() {
            let boundary = match self.chunks.get(1) {
                Some(next) => Some(next.first.at),
                None => self.open.first().map(|mark| mark.at),
            };
            match boundary {
                Some(boundary) if boundary < watermark => {}
                _ => return,
            }
            let chunk = self.chunks.remove(0);
            for mark in store.read(chunk.number) {
                step(&mark);
            }
            store.delete(chunk.number);
        }
        let settled = self.open.partition_point(|mark| mark.at < watermark);
        for mark in self.open.drain(..settled) {
            step(&mark);
        }
    }

    /// Delete the closed chunks (the conversation is forgotten).
    pub fn drop_chunks(&mut self, store: &mut dyn ChunkStore) {
        for chunk in self.chunks.drain(..) {
            store.delete(chunk.number);
        }
    }
}

/// Chunks in a map: a tail no table backs (tests).
#[derive(Clone, Debug, Default)]
pub struct MemoryChunks {
    pub chunks: std::collections::BTreeMap<i64, Vec<Mark>>,
}

impl ChunkStore for MemoryChunks {
    fn read(&self, number: i64) -> Vec<Mark> {
        self.chunks.get(&number).cloned().unwrap_or_default()
    }

    fn write(&mut self, number: i64, marks: &[Mark]) {
        self.chunks.insert(number, marks.to_vec());
    }

    fn delete(&mut self, number: i64) {
        self.chunks.remove(&number);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::Code;

    fn mark(at: f64) -> Mark {
        Mark {
            at,
            code: Code::Customer,
        }
    }

    #[test]
    fn appended_marks_close_a_chunk_every_chunk_marks_and_settle_in_order() {
        let mut store = MemoryChunks::default();
        let mut tail = Tail::default();
        for at in 0..40 {
            tail.append(mark(f64::from(at)), &mut store);
        }
        assert_eq!(tail.chunks.len(), 2);
        assert_eq!(tail.open.len(), 8);
        let mut stepped = Vec::new();
        tail.settle(20.0, &mut store, &mut |mark| stepped.push(mark.at));
        // The first chunk (0-15) leaves whole: the next starts at 16 < 20. The second
        // (16-31) stays: the open chunk starts at 32.
        assert_eq!(stepped, (0..16).map(f64::from).collect::<Vec<_>>());
        assert_eq!(tail.chunks.len(), 1);
        assert_eq!(store.chunks.len(), 1);
    }

    #[test]
    fn a_late_mark_lands_in_its_chunk_which_splits_past_twice_its_size() {
        let mut store = MemoryChunks::default();
        let mut tail = Tail::default();
        for at in 0..20 {
            tail.append(mark(f64::from(at * 10)), &mut store);
        }
        for at in 0..17 {
            tail.insert(mark(f64::from(at * 9) + 1.0), &mut store);
        }
        assert_eq!(tail.chunks.len(), 2, "{:?}", tail.chunks);
        let sizes: Vec<usize> = tail.chunks.iter().map(|chunk| chunk.marks).collect();
        assert_eq!(sizes, vec![16, 17]);
        let all: Vec<f64> = tail.marks(&store).iter().map(|mark| mark.at).collect();
        let mut sorted = all.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(all, sorted);
        assert_eq!(all.len(), 37);
    }
}
