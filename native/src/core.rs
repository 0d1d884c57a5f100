//! The partition core (docs/native-core.md, step 3): what `ConversationStore`, `Aggregates`
//! and the pipeline's `apply` and `sweep` do for one input partition, on native states.
//!
//! The tables stay Python's (a dict in tests, the state store in a worker): the core reads
//! a record it does not hold through `Backing` and hands back, once a batch, every record it
//! changed (`take_changes`), in the stored forms the Python pipeline writes, so either core
//! can take over the other's state. States and aggregate records are held here between
//! batches (states up to a bound, least recently stored dropped first): an event of a live
//! conversation reads nothing across the boundary.
//!
//! A state is written to its pending document when it is stored, as the Python store writes
//! the table at once: a fold that fails half way (a panic caught by the bindings) drops
//! the state, which is read again from that document.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::aggregates::round6;
use crate::conversation::{self, ConversationState, Event, EventKind, Rules};
use crate::document;
use crate::scoring::{self, Models};
use crate::series::{Contributions, Family, Kind, Label, Part, SeriesKey};
use crate::tail::ChunkStore;
use crate::thread::Mark;

/// Kafka's default partitioner's hash (`org.apache.kafka.common.utils.Utils.murmur2`,
/// aiokafka's `murmur2`): where a customer's facts go is the partition Kafka's own
/// clients would pick for the key.
pub fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_B28C;
    const M: u32 = 0x5BD1_E995;
    const R: u32 = 24;
    let length = data.len();
    let mut h = SEED ^ (length as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// A time in a heap, ordered by value (the times here are finite).
#[derive(Clone, Copy, Debug)]
pub struct At(pub f64);

impl PartialEq for At {
    fn eq(&self, other: &At) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for At {}

impl PartialOrd for At {
    fn partial_cmp(&self, other: &At) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for At {
    fn cmp(&self, other: &At) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl std::hash::Hash for At {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

/// The twin of `processor.stream.clock_checks.ClockChecks`: conversations by their next
/// clock check, entries early but never late, one pushed only when it comes before the
/// conversation's earliest entry still in the heap.
#[derive(Debug, Default)]
pub struct ClockChecks {
    heap: BinaryHeap<Reverse<(At, Label)>>,
    earliest: FxHashMap<Label, f64>,
}

impl ClockChecks {
    pub fn new(entries: Vec<(f64, Label)>) -> ClockChecks {
        let mut earliest: FxHashMap<Label, f64> = FxHashMap::default();
        for (at, id) in &entries {
            let found = earliest.entry(id.clone()).or_insert(*at);
            if *at < *found {
                *found = *at;
            }
        }
        let heap = entries
            .into_iter()
            .map(|(at, id)| Reverse((At(at), id)))
            .collect();
        ClockChecks { heap, earliest }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub fn schedule(&mut self, id: &Label, at: Option<f64>) {
        let at = match at {
            Some(at) => at,
            None => return,
        };
        if self
            .earliest
            .get(id)
            .map_or(true, |earliest| at < *earliest)
        {
            self.earliest.insert(id.clone(), at);
            self.heap.push(Reverse((At(at), id.clone())));
        }
    }

    /// The next conversation whose earliest entry is at or before `now`.
    pub fn pop_due(&mut self, now: f64) -> Option<Label> {
        while let Some(Reverse((At(at), _))) = self.heap.peek() {
            if *at > now {
                return None;
            }
            let Reverse((At(at), id)) = self.heap.pop().expect("peeked");
            if self.earliest.get(&id) != Some(&at) {
                continue; // left behind: the conversation's earliest entry checked it
            }
            self.earliest.remove(&id);
            return Some(id);
        }
        None
    }
}

/// A conversation's entry in the open backlog (`OpenConversation`).
#[derive(Clone, Debug, PartialEq)]
pub struct OpenEntry {
    pub brand: Label,
    pub channel: Label,
    pub opened_at: f64,
    pub priority: Label,
    pub backlog: &'static str,
    pub first_response_due: Option<f64>,
}

/// What a conversation tells the breach forecast's history (`QueueFacts`).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueFacts {
    pub brand: Label,
    pub channel: Label,
    pub priority: Label,
    pub opened_at: f64,
    pub first_response_at: Option<f64>,
    pub first_response_target: Option<f64>,
}

/// A state's index entries: next clock check, open backlog entry, queue facts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entries {
    pub due: Option<f64>,
    pub open: Option<OpenEntry>,
    pub facts: Option<QueueFacts>,
}

fn present(label: &Option<Label>) -> Option<Label> {
    label.as_ref().filter(|text| !text.is_empty()).cloned()
}

/// `conversations._entries`: the index entries of a state.
pub fn entries(state: &ConversationState) -> Entries {
    let opened_at = match state.opened_at {
        Some(opened_at) => opened_at,
        None => return Entries::default(),
    };
    let swept = state.swept();
    let mut ignored = Vec::new();
    let ended = state.walk.ending(swept, &mut ignored);
    let end = ended.as_ref().unwrap_or(&state.walk);
    let due = conversation::next_check_of(state, end);
    let (brand, channel) = match (present(&state.brand), present(&state.channel)) {
        (Some(brand), Some(channel)) => (brand, channel),
        _ => {
            return Entries {
                due,
                ..Entries::default()
            }
        }
    };
    let first_response_at = end.first_response_at;
    let facts = QueueFacts {
        brand: brand.clone(),
        channel: channel.clone(),
        priority: state.priority.clone(),
        opened_at,
        first_response_at,
        first_response_target: state.first_response_target,
    };
    let open = conversation::open_state(state, end, swept).map(|backlog| OpenEntry {
        brand,
        channel,
        opened_at,
        priority: state.priority.clone(),
        backlog,
        first_response_due: if first_response_at.is_none() {
            state.first_response_deadline()
        } else {
            None
        },
    });
    Entries {
        due,
        open,
        facts: Some(facts),
    }
}

/// The `_index` field a stored document carries: [next check, open entry, first response],
/// written straight into the document.
struct Hint<'a>(&'a Entries);

impl<'a> Serialize for Hint<'a> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entries = self.0;
        let open = entries.open.as_ref().map(|entry| {
            (
                &*entry.brand,
                &*entry.channel,
                entry.opened_at,
                &*entry.priority,
                entry.backlog,
                entry.first_response_due,
            )
        });
        let answered = entries
            .facts
            .as_ref()
            .and_then(|facts| facts.first_response_at);
        (entries.due, open, answered).serialize(serializer)
    }
}

fn text_at(values: &[Value], index: usize) -> Result<Label, String> {
    values
        .get(index)
        .and_then(Value::as_str)
        .map(Arc::from)
        .ok_or_else(|| format!("index entry item {index} is not a string"))
}

fn backlog_name(name: &str) -> Result<&'static str, String> {
    conversation::OPEN_STATES
        .iter()
        .find(|known| **known == name)
        .copied()
        .ok_or_else(|| format!("{name} is not an open state"))
}

/// The entries a stored document carries (`_with_stored_index`), found again from the
/// state for a document written before them.
fn stored_entries(document: &Value, state: &ConversationState) -> Result<Entries, String> {
    let found = match document.get("_index").and_then(Value::as_array) {
        Some(found) if found.len() >= 3 => found,
        _ => return Ok(entries(state)),
    };
    let open = match found[1].as_array() {
        None => None,
        Some(values) => Some(OpenEntry {
            brand: text_at(values, 0)?,
            channel: text_at(values, 1)?,
            opened_at: values.get(2).and_then(Value::as_f64).unwrap_or(0.0),
            priority: text_at(values, 3)?,
            backlog: backlog_name(&text_at(values, 4)?)?,
            first_response_due: values.get(5).and_then(Value::as_f64),
        }),
    };
    let text = |name: &str| document.get(name).and_then(Value::as_str).map(Arc::from);
    let facts = match (
        text("brand").filter(|brand: &Label| !brand.is_empty()),
        text("channel").filter(|channel: &Label| !channel.is_empty()),
        document.get("opened_at").and_then(Value::as_f64),
    ) {
        (Some(brand), Some(channel), Some(opened_at)) => Some(QueueFacts {
            brand,
            channel,
            priority: text("priority").unwrap_or_else(|| Arc::from("normal")),
            opened_at,
            first_response_at: found[2].as_f64(),
            first_response_target: document
                .get("first_response_target")
                .and_then(Value::as_f64),
        }),
        _ => None,
    };
    Ok(Entries {
        due: found[0].as_f64(),
        open,
        facts,
    })
}

/// Where the core reads what it does not hold: the Python tables.
pub trait Backing {
    /// A conversation's stored document (`"<partition>|<id>"` in the conversations table).
    fn document(&self, key: &str) -> Result<Option<Value>, String>;
    /// A closed tail chunk (`"<partition>|<id>|<n>"` in the threads table).
    fn chunk(&self, key: &str) -> Result<Option<Vec<Mark>>, String>;
    /// An aggregate record (`"totals"` or `"windows"`, the key as `series.py` writes it).
    fn record(&self, table: &str, key: &str) -> Result<Option<Record>, String>;
}

/// An aggregate record: stored field -> amount.
pub type Record = FxHashMap<Field, f64>;

/// A value the core wrote, in the stored form of its table.
#[derive(Clone, Debug, PartialEq)]
pub enum Written {
    /// A conversation document's JSON.
    Document(Vec<u8>),
    Chunk(Vec<Mark>),
}

/// An aggregate record changed since the last `take_changes`: its changed fields and their
/// values now (None: back at zero, gone from the record), or None when the record is
/// deleted (an expired bucket).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordChange {
    pub table: &'static str,
    pub key: String,
    pub fields: Option<Vec<(Field, Option<f64>)>>,
}

/// A changelog record's key: the JSON pair `[table, key]` as `records.encode_key` writes it
/// (orjson's escapes and serde_json's are the same: `\"`, `\\`, the short ones, `\u00xx`).
pub fn changelog_key(table: &str, key: &str) -> Vec<u8> {
    serde_json::to_vec(&(table, key)).expect("a pair of strings is JSON")
}

/// A table's record changed by the core since the last `take_changes` (None: deleted).
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub table: &'static str,
    pub key: String,
    pub value: Option<Written>,
}

/// A change of the open backlog and the breach forecast's history, for the Python indexes
/// the scrape reads: the conversation's entry now, its queue facts before and after.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexChange {
    pub conversation_id: Label,
    pub open: Option<OpenEntry>,
    pub facts_before: Option<QueueFacts>,
    pub facts_after: Option<QueueFacts>,
}

/// Why an event is not counted (the detail is Python's to write).
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// A reply to the opening post stamped before it (the opening's time).
    ReplyBeforeMention(f64),
    /// Older than what the conversation has settled (up to when).
    TooLate(Option<f64>),
}

/// A failure to read or fold (a bad stored record, a panic): the state is dropped.
pub type Failure = String;

/// The closed chunks of one conversation: the core's pending writes, then the table.
struct CoreChunks<'a> {
    prefix: String,
    pending: &'a mut FxHashMap<String, Option<Vec<Mark>>>,
    backing: &'a dyn Backing,
    failure: std::cell::RefCell<Option<String>>,
}

impl<'a> ChunkStore for CoreChunks<'a> {
    fn read(&self, number: i64) -> Vec<Mark> {
        let key = format!("{}{}", self.prefix, number);
        if let Some(found) = self.pending.get(&key) {
            return found.clone().unwrap_or_default();
        }
        match self.backing.chunk(&key) {
            Ok(found) => found.unwrap_or_default(),
            Err(error) => {
                *self.failure.borrow_mut() = Some(error);
                Vec::new()
            }
        }
    }

    fn write(&mut self, number: i64, marks: &[Mark]) {
        self.pending
            .insert(format!("{}{}", self.prefix, number), Some(marks.to_vec()));
    }

    fn delete(&mut self, number: i64) {
        self.pending
            .insert(format!("{}{}", self.prefix, number), None);
    }
}

/// A state held by the core, with the entries its stored document carries (None: not in
/// the table) and when it was last stored (for dropping the least recent).
struct Slot {
    state: ConversationState,
    stored: Option<Entries>,
    used: u64,
}

/// `WINDOW_FAMILIES`, bucket sizes and their retentions: the aggregates' configuration.
#[derive(Clone, Debug)]
pub struct WindowRules {
    pub windowed: FxHashSet<Family>,
    /// (bucket size, retention) in seconds.
    pub sizes: Vec<(f64, f64)>,
}

/// Python's `at - (at % size)` (the remainder takes the sign of the size).
pub fn bucket_start(at: f64, size: f64) -> f64 {
    let mut remainder = at % size;
    if remainder != 0.0 && (size < 0.0) != (remainder < 0.0) {
        remainder += size;
    }
    at - remainder
}

/// A family's stored name (`series._STORED`): counters as exposed, histogram parts with
/// their suffix, gauges bare, without the prefix.
fn stored_name(family: Family, part: Part) -> String {
    let short = family
        .name()
        .strip_prefix("socialcare_")
        .unwrap_or(family.name());
    match (family.kind(), part) {
        (Kind::Histogram, part) => format!("{short}_{}", part.text()),
        (Kind::Counter, _) => format!("{short}_total"),
        (Kind::Gauge, _) => short.to_owned(),
    }
}

/// `series.field_of`: the series' field inside a (partition, brand, channel) record.
pub fn field_of(key: &SeriesKey) -> String {
    let mut field = stored_name(key.family, key.part);
    for label in key.labels.iter().skip(2) {
        field.push('|');
        field.push_str(label);
    }
    if key.part == Part::Bucket {
        field.push('|');
        field.push_str(&key.bucket.to_string());
    }
    field
}

/// `add_to_field`: rounded to the microunit when not whole, a field back at zero leaves
/// the record; the field is noted as changed.
fn add_amount(record: &mut Record, changed: &mut Changed, field: &Field, amount: f64) {
    let mut value = record.get(field).copied().unwrap_or(0.0) + amount;
    if value % 1.0 != 0.0 {
        value = round6(value);
    }
    if value == 0.0 {
        record.remove(field);
    } else {
        record.insert(field.clone(), value);
    }
    changed.insert(field.clone());
}

type Pair = (Label, Label);
/// A stored field name (`series.field_of`), shared by every record that has it.
pub type Field = Arc<str>;
type Changed = FxHashSet<Field>;
/// Amounts of one (brand, channel): (field, event time of a windowed series, amount).
type Amounts = Vec<(Field, Option<f64>, f64)>;
/// Stored fields by (family, part, bucket), then the label values after brand and channel.
type FieldNames = FxHashMap<(Family, Part, i32), Vec<(Vec<Label>, Field)>>;
/// A window bucket: (brand, channel), size index, start.
type Place = (Pair, usize, At);

/// The totals and window buckets of one partition (`processor.stream.aggregates`).
struct Aggregates {
    partition: i64,
    rules: WindowRules,
    totals: FxHashMap<Pair, Record>,
    windows: FxHashMap<Place, Record>,
    /// The fields changed since the last `take_changes`, by record.
    touched_totals: FxHashMap<Pair, Changed>,
    touched_windows: FxHashMap<Place, Changed>,
    deleted_windows: Vec<String>,
    /// Per size: (start, (brand, channel)) of the buckets written, to expire them.
    expiry: Vec<BinaryHeap<Reverse<(At, Pair)>>>,
    /// Stored fields by (family, part, bucket) and label values after brand and channel.
    fields: FieldNames,
}

fn totals_key(partition: i64, brand: &str, channel: &str) -> String {
    json!([partition, brand, channel]).to_string()
}

fn window_key(partition: i64, brand: &str, channel: &str, size: f64, start: f64) -> String {
    json!([partition, brand, channel, size, start]).to_string()
}

impl Aggregates {
    fn new(partition: i64, rules: WindowRules) -> Aggregates {
        let sizes = rules.sizes.len();
        Aggregates {
            partition,
            rules,
            totals: FxHashMap::default(),
            windows: FxHashMap::default(),
            touched_totals: FxHashMap::default(),
            touched_windows: FxHashMap::default(),
            deleted_windows: Vec::new(),
            expiry: (0..sizes).map(|_| BinaryHeap::new()).collect(),
            fields: FxHashMap::default(),
        }
    }

    /// The stored field of a series key (made once per series).
    fn field(&mut self, key: &SeriesKey) -> Field {
        let extra = &key.labels[2.min(key.labels.len())..];
        let found = self
            .fields
            .entry((key.family, key.part, key.bucket))
            .or_default();
        if let Some((_, field)) = found.iter().find(|(labels, _)| labels[..] == *extra) {
            return field.clone();
        }
        let mut plain = key.clone();
        plain.at = None;
        let field: Field = Arc::from(field_of(&plain));
        found.push((extra.to_vec(), field.clone()));
        field
    }

    /// The totals record of a pair, read from the table the first time.
    fn totals_of(&mut self, pair: &Pair, backing: &dyn Backing) -> Result<(), Failure> {
        if !self.totals.contains_key(pair) {
            let key = totals_key(self.partition, &pair.0, &pair.1);
            let record = backing.record("totals", &key)?.unwrap_or_default();
            self.totals.insert(pair.clone(), record);
        }
        Ok(())
    }

    /// The buckets of each size holding event time `at` still in retention (read from the
    /// table, or new, the first time).
    fn buckets_at(
        &mut self,
        pair: &Pair,
        at: f64,
        window_now: f64,
        backing: &dyn Backing,
    ) -> Result<Vec<Place>, Failure> {
        let mut places = Vec::with_capacity(self.rules.sizes.len());
        for index in 0..self.rules.sizes.len() {
            let (size, retention) = self.rules.sizes[index];
            let start = bucket_start(at, size);
            if start < window_now - retention {
                continue; // older than any window that reads this bucket size
            }
            let place = (pair.clone(), index, At(start));
            if !self.windows.contains_key(&place) {
                let key = window_key(self.partition, &pair.0, &pair.1, size, start);
                let record = match backing.record("windows", &key)? {
                    Some(record) => record,
                    None => {
                        self.expiry[index].push(Reverse((At(start), pair.clone())));
                        Record::default()
                    }
                };
                self.windows.insert(place.clone(), record);
            }
            places.push(place);
        }
        Ok(places)
    }

    /// Add amounts of (brand, channel)'s series: to its totals, and a windowed series
    /// (its event time given) to the buckets still in retention.
    fn add_fields(
        &mut self,
        pair: &Pair,
        amounts: &[(Field, Option<f64>, f64)],
        window_now: f64,
        backing: &dyn Backing,
    ) -> Result<(), Failure> {
        self.totals_of(pair, backing)?;
        {
            let record = self.totals.get_mut(pair).expect("read");
            let changed = self.touched_totals.entry(pair.clone()).or_default();
            for (field, _, amount) in amounts {
                add_amount(record, changed, field, *amount);
            }
        }
        let mut bucket_at: Option<f64> = None;
        let mut places = Vec::new();
        for (field, at, amount) in amounts {
            let at = match at {
                Some(at) => *at,
                None => continue,
            };
            if bucket_at != Some(at) {
                bucket_at = Some(at);
                places = self.buckets_at(pair, at, window_now, backing)?;
            }
            for place in &places {
                let record = self.windows.get_mut(place).expect("read");
                let changed = self.touched_windows.entry(place.clone()).or_default();
                add_amount(record, changed, field, *amount);
            }
        }
        Ok(())
    }

    /// Add a conversation's change: its keys share one brand and channel (else they are
    /// taken a pair at a time).
    fn add_all(
        &mut self,
        change: &Contributions,
        window_now: f64,
        backing: &dyn Backing,
    ) -> Result<(), Failure> {
        let mut by_pair: Vec<(Pair, Amounts)> = Vec::new();
        for (key, amount) in change {
            let field = self.field(key);
            let at = key.at.filter(|_| self.rules.windowed.contains(&key.family));
            let (brand, channel) = (&key.labels[0], &key.labels[1]);
            let found = by_pair
                .iter_mut()
                .find(|(pair, _)| pair.0 == *brand && pair.1 == *channel);
            match found {
                Some((_, amounts)) => amounts.push((field, at, *amount)),
                None => {
                    by_pair.push(((brand.clone(), channel.clone()), vec![(field, at, *amount)]))
                }
            }
        }
        for (pair, mut amounts) in by_pair {
            // Windowed amounts of one event time together: their buckets found once.
            amounts.sort_by(|left, right| {
                let key = |at: &Option<f64>| at.map(At);
                key(&left.1).cmp(&key(&right.1))
            });
            self.add_fields(&pair, &amounts, window_now, backing)?;
        }
        Ok(())
    }

    /// Drop the buckets no window can read any more.
    fn expire(&mut self, window_now: f64) {
        for index in 0..self.rules.sizes.len() {
            let (size, retention) = self.rules.sizes[index];
            let expired_before = window_now - retention;
            let heap = &mut self.expiry[index];
            while let Some(Reverse((At(start), _))) = heap.peek() {
                if *start >= expired_before {
                    break;
                }
                let Reverse((At(start), pair)) = heap.pop().expect("peeked");
                let key = window_key(self.partition, &pair.0, &pair.1, size, start);
                let place = (pair, index, At(start));
                self.windows.remove(&place);
                self.touched_windows.remove(&place);
                self.deleted_windows.push(key);
            }
        }
    }

    fn take_changes(&mut self, out: &mut Vec<RecordChange>) {
        let fields_of = |record: &Record, changed: Changed| -> Vec<(Field, Option<f64>)> {
            changed
                .into_iter()
                .map(|field| {
                    let value = record.get(&field).copied();
                    (field, value)
                })
                .collect()
        };
        for (pair, changed) in std::mem::take(&mut self.touched_totals) {
            out.push(RecordChange {
                table: "totals",
                key: totals_key(self.partition, &pair.0, &pair.1),
                fields: Some(fields_of(&self.totals[&pair], changed)),
            });
        }
        for key in self.deleted_windows.drain(..) {
            out.push(RecordChange {
                table: "windows",
                key,
                fields: None,
            });
        }
        for (place, changed) in std::mem::take(&mut self.touched_windows) {
            let size = self.rules.sizes[place.1].0;
            let ((brand, channel), _, At(start)) = &place;
            out.push(RecordChange {
                table: "windows",
                key: window_key(self.partition, brand, channel, size, *start),
                fields: Some(fields_of(&self.windows[&place], changed)),
            });
        }
    }
}

/// What the core needs to know of the worker's settings.
#[derive(Clone, Debug)]
pub struct CoreRules {
    pub conversation: Rules,
    pub windows: WindowRules,
    pub ttl_seconds: f64,
    pub states_kept: usize,
    /// `SOCIALCARE_CSAT_HOLDOUT_SHARE`: answers kept out of learning.
    pub holdout_share: f64,
}

/// One input partition's conversations, their indexes and aggregates.
pub struct PartitionCore {
    partition: i64,
    rules: CoreRules,
    slots: FxHashMap<Label, Slot>,
    checks: ClockChecks,
    idle: BinaryHeap<Reverse<(At, Label)>>,
    aggregates: Aggregates,
    /// Stored documents (JSON) since the last `take_changes` (None: deleted).
    documents: FxHashMap<Label, Option<Vec<u8>>>,
    chunks: FxHashMap<String, Option<Vec<Mark>>>,
    index_changes: Vec<IndexChange>,
    facts: Vec<conversation::ContactFacts>,
    clock: u64,
}

impl PartitionCore {
    /// A partition's core, its clock checks and idle entries rebuilt by the caller from
    /// the table (`ConversationStore.index`), its window buckets' starts from the windows
    /// table: (size, start, brand, channel).
    pub fn new(
        partition: i64,
        rules: CoreRules,
        checks: Vec<(f64, Label)>,
        idle: Vec<(f64, Label)>,
        buckets: Vec<(f64, f64, Label, Label)>,
    ) -> PartitionCore {
        let mut aggregates = Aggregates::new(partition, rules.windows.clone());
        for (size, start, brand, channel) in buckets {
            let sizes = &rules.windows.sizes;
            if let Some(index) = sizes.iter().position(|(known, _)| *known == size) {
                aggregates.expiry[index].push(Reverse((At(start), (brand, channel))));
            }
        }
        PartitionCore {
            partition,
            rules,
            slots: FxHashMap::default(),
            checks: ClockChecks::new(checks),
            idle: idle
                .into_iter()
                .map(|(at, id)| Reverse((At(at), id)))
                .collect(),
            aggregates,
            documents: FxHashMap::default(),
            chunks: FxHashMap::default(),
            index_changes: Vec::new(),
            facts: Vec::new(),
            clock: 0,
        }
    }

    fn key(&self, id: &str) -> String {
        format!("{}|{}", self.partition, id)
    }

    /// The held state, or the stored one, or a new one (`ConversationStore.load`).
    fn load(&mut self, id: &Label, backing: &dyn Backing) -> Result<&mut Slot, Failure> {
        if !self.slots.contains_key(id) {
            let document = match self.documents.get(id) {
                Some(Some(pending)) => {
                    Some(serde_json::from_slice(pending).map_err(|error| error.to_string())?)
                }
                Some(None) => None,
                None => backing.document(&self.key(id))?,
            };
            let slot = match document {
                None => Slot {
                    state: ConversationState {
                        conversation_id: id.clone(),
                        partition: self.partition,
                        ..ConversationState::default()
                    },
                    stored: None,
                    used: 0,
                },
                Some(document) => {
                    let mut state = document::from_document(&document)?;
                    state.partition = self.partition;
                    let stored = stored_entries(&document, &state)?;
                    Slot {
                        state,
                        stored: Some(stored),
                        used: 0,
                    }
                }
            };
            self.slots.insert(id.clone(), slot);
        }
        Ok(self.slots.get_mut(id).expect("loaded"))
    }

    fn chunks<'a>(
        partition: i64,
        id: &str,
        pending: &'a mut FxHashMap<String, Option<Vec<Mark>>>,
        backing: &'a dyn Backing,
    ) -> CoreChunks<'a> {
        CoreChunks {
            prefix: format!("{partition}|{id}|"),
            pending,
            backing,
            failure: std::cell::RefCell::new(None),
        }
    }

    /// Write a held state (`ConversationStore.store`): its document, its index entries.
    fn store(&mut self, id: &Label) {
        self.clock += 1;
        let slot = self.slots.get_mut(id).expect("a held state");
        slot.used = self.clock;
        let now = entries(&slot.state);
        self.checks.schedule(id, now.due);
        let before = slot.stored.as_ref().and_then(|stored| stored.facts.clone());
        let open_before = slot.stored.as_ref().and_then(|stored| stored.open.clone());
        if open_before != now.open || before != now.facts {
            self.index_changes.push(IndexChange {
                conversation_id: id.clone(),
                open: now.open.clone(),
                facts_before: before,
                facts_after: now.facts.clone(),
            });
        }
        let written = document::document_bytes(&slot.state, &Hint(&now));
        slot.stored = Some(now);
        self.documents.insert(id.clone(), Some(written));
    }

    /// Forget a state (`ConversationStore.delete`): its document, chunks and entries.
    fn delete(&mut self, id: &Label, backing: &dyn Backing) -> Result<(), Failure> {
        let mut slot = match self.slots.remove(id) {
            Some(slot) => slot,
            None => return Ok(()),
        };
        {
            let mut chunks = Self::chunks(self.partition, id, &mut self.chunks, backing);
            slot.state.tail.drop_chunks(&mut chunks);
        }
        self.documents.insert(id.clone(), None);
        let before = slot.stored.and_then(|stored| stored.facts);
        self.index_changes.push(IndexChange {
            conversation_id: id.clone(),
            open: None,
            facts_before: before,
            facts_after: None,
        });
        Ok(())
    }

    fn tell(&mut self, id: &Label) {
        let slot = self.slots.get_mut(id).expect("a held state");
        if let Some(facts) = conversation::facts_to_tell(&mut slot.state) {
            self.facts.push(facts);
        }
    }

    /// Fold a first-seen event of a conversation (`Pipeline.apply`): retire the state idle
    /// past the TTL, refuse a contradiction or a settled past, settle at the watermark,
    /// apply, add the change and the event's own counts to the aggregates.
    /// With `models` (the predictions on), the change scored as `csat_scoring.on_event`.
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &mut self,
        id: &Label,
        event: &Event,
        answers_opening: bool,
        watermark: Option<f64>,
        window_now: f64,
        backing: &dyn Backing,
        models: Option<&mut dyn Models>,
    ) -> Result<Result<(), Refusal>, Failure> {
        let last = self.load(id, backing)?.state.last_event_at;
        if let Some(last) = last {
            if event.at - last > self.rules.ttl_seconds {
                // Idle past the TTL: forgotten; this event starts it afresh.
                let retired =
                    conversation::retirement(&mut self.slots.get_mut(id).expect("held").state);
                self.aggregates.add_all(&retired, window_now, backing)?;
                self.delete(id, backing)?;
                self.load(id, backing)?;
            }
        }
        let partition = self.partition;
        let slot = self.slots.get_mut(id).expect("loaded");
        let state = &mut slot.state;
        if answers_opening {
            if let Some(opened_at) = state.opened_at {
                if event.at < opened_at {
                    return Ok(Err(Refusal::ReplyBeforeMention(opened_at)));
                }
            }
        }
        if conversation::settled_before(state, event.at) {
            return Ok(Err(Refusal::TooLate(state.settled_until)));
        }
        let mut chunks = Self::chunks(partition, id, &mut self.chunks, backing);
        conversation::settle(state, watermark, &mut chunks);
        let is_new = state.last_event_at.is_none();
        let mut change =
            conversation::apply_event(state, event, &self.rules.conversation, &mut chunks);
        if let Some(failure) = chunks.failure.into_inner() {
            return Err(failure);
        }
        for (key, amount) in conversation::event_increments(event, &self.rules.conversation) {
            *change.entry(key).or_insert(0.0) += amount;
        }
        if let Some(models) = models {
            let resolving = matches!(event.kind, EventKind::Reply { resolves: true, .. });
            let csat_answer = match &event.kind {
                EventKind::Survey { kind, score } if &**kind == "csat" => Some(*score),
                _ => None,
            };
            let holdout = self.rules.holdout_share;
            let scored =
                scoring::on_event(state, models, event.at, resolving, csat_answer, holdout)?;
            for (key, amount) in scored {
                *change.entry(key).or_insert(0.0) += amount;
            }
        }
        let last_event_at = state.last_event_at;
        self.tell(id);
        self.store(id);
        self.aggregates.add_all(&change, window_now, backing)?;
        if is_new {
            if let Some(at) = last_event_at {
                self.idle.push(Reverse((At(at), id.clone())));
            }
        }
        Ok(Ok(()))
    }

    /// Add contributions made in Python (customers, contact counts): (brand, channel,
    /// stored field, event time for a windowed series, amount).
    pub fn add(
        &mut self,
        items: &[(Label, Label, Field, Option<f64>, f64)],
        window_now: f64,
        backing: &dyn Backing,
    ) -> Result<(), Failure> {
        for (brand, channel, field, at, amount) in items {
            let pair = (brand.clone(), channel.clone());
            let amounts = [(field.clone(), *at, *amount)];
            self.aggregates
                .add_fields(&pair, &amounts, window_now, backing)?;
        }
        Ok(())
    }

    /// The clock's work (`Pipeline.sweep`): breach overdue conversations at `now`, forget
    /// those idle since `idle_before`, expire window buckets.
    pub fn sweep(
        &mut self,
        now: f64,
        idle_before: f64,
        window_now: f64,
        backing: &dyn Backing,
        mut models: Option<&mut dyn Models>,
    ) -> Result<(), Failure> {
        while let Some(id) = self.checks.pop_due(now) {
            if !self.slots.contains_key(&id) && !self.in_table(&id, backing)? {
                continue; // forgotten since
            }
            let slot = self.load(&id, backing)?;
            let stored_due = slot.stored.as_ref().and_then(|stored| stored.due);
            if stored_due.map_or(true, |due| due > now) {
                // An early entry: its stored check waits in the heap instead.
                self.checks.schedule(&id, stored_due);
                continue;
            }
            if let Some(mut change) = conversation::sweep(&mut slot.state, now) {
                if let Some(models) = models.as_mut() {
                    for (key, amount) in scoring::on_clock(&mut slot.state, &mut **models)? {
                        *change.entry(key).or_insert(0.0) += amount;
                    }
                }
                self.tell(&id);
                self.store(&id);
                self.aggregates.add_all(&change, window_now, backing)?;
            }
        }
        while let Some(Reverse((At(at), _))) = self.idle.peek() {
            if *at >= idle_before {
                break;
            }
            let Reverse((_, id)) = self.idle.pop().expect("peeked");
            if !self.slots.contains_key(&id) && !self.in_table(&id, backing)? {
                continue; // deleted
            }
            let slot = self.load(&id, backing)?;
            if slot.stored.is_none() {
                continue;
            }
            if let Some(last) = slot.state.last_event_at {
                if last >= idle_before {
                    self.idle.push(Reverse((At(last), id)));
                    continue;
                }
            }
            let retired = conversation::retirement(&mut slot.state);
            self.aggregates.add_all(&retired, window_now, backing)?;
            self.delete(&id, backing)?;
        }
        self.aggregates.expire(window_now);
        Ok(())
    }

    fn in_table(&self, id: &Label, backing: &dyn Backing) -> Result<bool, Failure> {
        Ok(match self.documents.get(id) {
            Some(pending) => pending.is_some(),
            None => backing.document(&self.key(id))?.is_some(),
        })
    }

    /// A fold failed half way: read the state from its document again.
    pub fn discard(&mut self, id: &Label) {
        self.slots.remove(id);
    }

    /// A sweep failed half way: read every state from its document again.
    pub fn discard_all(&mut self) {
        self.slots.clear();
    }

    /// The aggregate records changed since the last call (`take_changes` takes the rest).
    pub fn take_record_changes(&mut self) -> Vec<RecordChange> {
        let mut out = Vec::new();
        self.aggregates.take_changes(&mut out);
        out
    }

    /// The documents and chunks changed since the last call, in their tables' stored
    /// forms; then the least recently stored states past the bound are dropped (their
    /// documents are in the table now).
    pub fn take_changes(&mut self) -> Vec<Change> {
        let mut out = Vec::new();
        for (id, document) in self.documents.drain() {
            out.push(Change {
                table: "conversations",
                key: format!("{}|{}", self.partition, id),
                value: document.map(Written::Document),
            });
        }
        for (key, marks) in self.chunks.drain() {
            out.push(Change {
                table: "threads",
                key,
                value: marks.map(Written::Chunk),
            });
        }
        let kept = self.rules.states_kept;
        if self.slots.len() > kept {
            let mut used: Vec<u64> = self.slots.values().map(|slot| slot.used).collect();
            let keep_from = kept - kept / 10;
            used.sort_unstable();
            let cut = used[used.len() - keep_from.max(1)];
            self.slots.retain(|_, slot| slot.used >= cut);
        }
        out
    }

    pub fn take_index_changes(&mut self) -> Vec<IndexChange> {
        std::mem::take(&mut self.index_changes)
    }

    pub fn take_facts(&mut self) -> Vec<conversation::ContactFacts> {
        std::mem::take(&mut self.facts)
    }

    /// The bound on held states (a worker's share of `SOCIALCARE_STATE_CACHE_CONVERSATIONS`
    /// changes with the partitions it owns); the next `take_changes` keeps to it.
    pub fn set_states_kept(&mut self, kept: usize) {
        self.rules.states_kept = kept.max(1);
    }

    /// How many clock checks and held states (diagnostics, tests).
    pub fn sizes(&self) -> (usize, usize) {
        (self.checks.len(), self.slots.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_floats_read_back_to_the_bit() {
        // serde_json's default parser gave 1817.390000104904 (float_roundtrip fixes it).
        let value: Value = serde_json::from_str("[1817.3900001049042]").expect("JSON");
        assert_eq!(value[0].as_f64(), Some(1_817.390_000_104_904_2));
    }

    #[test]
    fn murmur2_is_kafkas() {
        // Kafka's own test vectors (UtilsTest.testMurmur2), as unsigned 32-bit values.
        assert_eq!(murmur2(b"21") as i32, -973_932_308);
        assert_eq!(murmur2(b"foobar") as i32, -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string") as i32, -985_981_536);
        assert_eq!(
            murmur2(b"a-little-bit-longer-string") as i32,
            -1_486_304_829
        );
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") as i32,
            -58_897_971
        );
        assert_eq!(murmur2(b"abc") as i32, 479_470_107);
    }

    #[test]
    fn bucket_starts_as_python() {
        assert_eq!(bucket_start(1_700_000_123.5, 60.0), 1_700_000_100.0);
        assert_eq!(bucket_start(-30.0, 60.0), -60.0);
        assert_eq!(bucket_start(120.0, 60.0), 120.0);
    }

    #[test]
    fn clock_checks_pop_each_conversation_once_at_its_earliest() {
        let a: Label = Arc::from("a");
        let b: Label = Arc::from("b");
        let mut checks = ClockChecks::new(vec![(5.0, a.clone()), (3.0, a.clone())]);
        checks.schedule(&b, Some(4.0));
        checks.schedule(&b, Some(9.0)); // later: waits behind the entry at 4
        assert_eq!(checks.pop_due(4.5), Some(a.clone()));
        assert_eq!(checks.pop_due(4.5), Some(b));
        assert_eq!(checks.pop_due(10.0), None); // a's entry at 5 was left behind
    }

    #[test]
    fn keys_and_fields_as_series_py_writes_them() {
        assert_eq!(totals_key(3, "acme", "twitter"), r#"[3,"acme","twitter"]"#);
        assert_eq!(
            window_key(3, "acme", "twitter", 60.0, 1_700_000_040.0),
            r#"[3,"acme","twitter",60.0,1700000040.0]"#
        );
        let key = SeriesKey {
            family: Family::FirstResponseSeconds,
            labels: vec![Arc::from("acme"), Arc::from("twitter")],
            at: None,
            part: Part::Bucket,
            bucket: 3,
        };
        assert_eq!(field_of(&key), "first_response_seconds_bucket|3");
    }
}
