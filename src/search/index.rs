//! The people index on disk (`<data_dir>/search/`), kept in lockstep with the store through the
//! change log: each commit's payload names the last change it holds, and `catch_up` replays the
//! log after it, so a crash or a deleted directory heals on the next start.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::schema::Value;
use tantivy::{IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use super::facets::{FacetCollector, FacetCounts};
use super::query::{self, ParsedQuery};
use super::schema::{self, Fields};
use super::{Facets, SearchError, SearchHit, SearchResults};
use crate::model::Entity;
use crate::store::{PersonFilter, Store};

/// Memory for the index writer's buffers (tantivy's minimum per thread is 15 MB).
const WRITER_MEMORY: usize = 64 * 1024 * 1024;
/// How many of the best matches are re-ranked (see `search`).
const RERANK_WINDOW: usize = 32;
/// Memory for the writer of a rebuild from scratch (see `catch_up`). At a million people a
/// rebuild with 256 MB peaked at 1,024 MiB of the server's memory, past the 1 GiB it may take,
/// where 128 MB peaked at 839-850 MiB and was no slower (benches/README.md, session 16).
const REBUILD_MEMORY: usize = 128 * 1024 * 1024;
/// People per batch handed from the store scan to the document builders of a rebuild.
const REBUILD_BATCH: usize = 512;
/// Changes replayed per commit, so a long replay makes progress a crash does not lose.
const CHANGES_PER_COMMIT: usize = 20_000;

/// Bytes of stored documents per doc-store block (tantivy's default is 16 KiB).
const DOCSTORE_BLOCK: usize = 4096;

/// How new indexes store documents. Every search reads the stored id and words of its best
/// `RERANK_WINDOW` matches, each in its own block: uncompressed small blocks make that a copy
/// of 4 KiB instead of an LZ4 decompression of 16 KiB (a quarter of the reads' instructions),
/// for a doc store about twice the size (14 MB instead of 6.6 MB per 100,000 people). An index
/// keeps the settings it was created with; `VERSION` rebuilds older ones.
fn settings() -> tantivy::IndexSettings {
    tantivy::IndexSettings {
        docstore_compression: tantivy::store::Compressor::None,
        docstore_blocksize: DOCSTORE_BLOCK,
        ..Default::default()
    }
}

/// What a commit records (the commit payload).
#[derive(Serialize, Deserialize)]
struct Payload {
    version: u32,
    seq: u64,
    /// The custom attributes the index holds: a different configured set means a rebuild.
    #[serde(default)]
    custom: Vec<String>,
}

/// The deepest offset a search page may start at, and the largest page.
pub const MAX_SEARCH_RESULTS: usize = 10_000;

/// Options of the people index.
#[derive(Debug, Clone, Default)]
pub struct IndexOptions {
    /// Okta profile attributes (beyond the standard ones) whose values are searchable.
    pub custom_attributes: Vec<String>,
}

/// The people search index. Searches run concurrently; one writer applies changes.
pub struct Index {
    dir: PathBuf,
    reader: IndexReader,
    /// `None` once closed.
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
    options: IndexOptions,
    /// The last change sequence the committed index holds.
    seq: AtomicU64,
}

impl Index {
    /// The options an existing index in `dir` was built with (default when there is none), so
    /// a reader without the configuration (`oktamirror search`) opens it without a rebuild.
    pub fn stored_options(dir: &Path) -> IndexOptions {
        let custom = tantivy::Index::open_in_dir(dir)
            .and_then(|i| i.load_metas())
            .ok()
            .and_then(|m| m.payload)
            .and_then(|p| serde_json::from_str::<Payload>(&p).ok())
            .map(|p| p.custom)
            .unwrap_or_default();
        IndexOptions {
            custom_attributes: custom,
        }
    }

    /// Opens the index in `dir`, creating it (empty, at sequence 0) when it is missing, and
    /// starting over when it was written by another index version or is unreadable.
    pub fn open(dir: &Path, options: IndexOptions) -> Result<Index, SearchError> {
        match Index::open_existing(dir, options.clone()) {
            Ok(index) => Ok(index),
            Err(e @ (SearchError::Locked { .. } | SearchError::Io { .. })) => Err(e),
            Err(e) => {
                if dir.exists() {
                    tracing::warn!("rebuilding the search index in {}: {e}", dir.display());
                    std::fs::remove_dir_all(dir).map_err(|e| SearchError::io(dir, e))?;
                }
                Index::open_existing(dir, options)
            }
        }
    }

    fn open_existing(dir: &Path, options: IndexOptions) -> Result<Index, SearchError> {
        std::fs::create_dir_all(dir).map_err(|e| SearchError::io(dir, e))?;
        let (schema, fields) = Fields::schema();
        let mmap = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| SearchError::Index(e.to_string()))?;
        let index = tantivy::Index::builder()
            .schema(schema)
            .settings(settings())
            .open_or_create(mmap)?;
        let seq = match index.load_metas()?.payload {
            None => 0,
            Some(p) => match serde_json::from_str::<Payload>(&p) {
                Ok(p) if p.version == schema::VERSION && p.custom == options.custom_attributes => {
                    p.seq
                }
                Ok(p) if p.version == schema::VERSION => {
                    return Err(SearchError::Index(format!(
                        "the searchable custom attributes changed from {:?} to {:?}",
                        p.custom, options.custom_attributes
                    )));
                }
                _ => {
                    return Err(SearchError::Index(format!(
                        "index version differs from {}",
                        schema::VERSION
                    )));
                }
            },
        };
        let writer = index.writer(WRITER_MEMORY).map_err(|e| match e {
            tantivy::TantivyError::LockFailure(..) => SearchError::Locked {
                path: dir.display().to_string(),
            },
            e => e.into(),
        })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Index {
            dir: dir.to_path_buf(),
            reader,
            writer: Mutex::new(Some(writer)),
            fields,
            options,
            seq: AtomicU64::new(seq),
        })
    }

    /// The writer, even after a panic elsewhere: uncommitted work is simply replayed again.
    fn lock_writer(&self) -> std::sync::MutexGuard<'_, Option<IndexWriter>> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a running update to finish, then releases the index directory (its lock), so
    /// the data directory can be opened again at once. Searches keep working; updates stop.
    pub fn close(&self) {
        drop(self.lock_writer().take());
    }

    /// Where the index lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Documents (people) the index holds as of its last commit.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The last change sequence the index holds (searches see the store as of this change).
    pub fn indexed_seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Brings the index up to the store's newest change and returns that sequence. An index at
    /// sequence 0, one ahead of the store (the data directory was replaced), or one behind by
    /// more changes than the store holds people is rebuilt from a scan of the store; otherwise
    /// the change log after the indexed sequence is replayed.
    pub fn catch_up(&self, store: &Store) -> Result<u64, SearchError> {
        let mut guard = self.lock_writer();
        let Some(writer) = guard.as_mut() else {
            return Err(SearchError::Index("the index was closed".into()));
        };
        let from = self.indexed_seq();
        let last = store.last_seq()?;
        if from == last {
            return Ok(last);
        }
        // A backlog longer than the org (right after a first sync into a running server) is
        // cheaper rebuilt by one scan than replayed person by person.
        // The people are counted only for a backlog that long, not on every follower tick.
        let long_backlog = || -> Result<bool, SearchError> {
            if last - from <= CHANGES_PER_COMMIT as u64 {
                return Ok(false);
            }
            let people: u64 = crate::model::UserStatus::ALL
                .iter()
                .map(|s| store.status_count(*s))
                .sum::<Result<u64, _>>()?;
            Ok(last - from > people)
        };
        // An initial load logs one entry for the whole org: everything before it is re-read.
        let rebuild =
            from == 0 || from > last || store.initial_load_seq()? > from || long_backlog()?;
        let mode = if rebuild { "rebuild" } else { "replay" };
        let _span = tracing::info_span!("search_index_update", mode, from, to = last).entered();
        let started = std::time::Instant::now();
        if rebuild {
            // A rebuild gets a writer with a larger budget: fewer, larger segments, so less to
            // merge at the end. The usual writer comes back afterwards, whatever happened.
            let index = writer.index().clone();
            drop(guard.take());
            let built = index
                .writer(REBUILD_MEMORY)
                .map_err(SearchError::from)
                .and_then(|mut big| self.rebuild(&mut big, store, last));
            *guard = Some(index.writer(WRITER_MEMORY)?);
            built?;
        } else {
            self.replay(writer, store, from)?;
        }
        tracing::debug!(
            secs = started.elapsed().as_secs_f64(),
            "search index caught up"
        );
        Ok(self.indexed_seq())
    }

    /// Replays the change log after `from`, committing every `CHANGES_PER_COMMIT` changes.
    fn replay(&self, w: &mut IndexWriter, store: &Store, from: u64) -> Result<(), SearchError> {
        let mut touched = BTreeSet::new();
        let mut seen = 0usize;
        let mut last = from;
        for change in store.changes_after(from) {
            let change = change?;
            last = change.seq;
            seen += 1;
            if let Entity::Person { id } = change.entity {
                touched.insert(id);
            }
            if seen >= CHANGES_PER_COMMIT {
                self.reindex(w, store, &std::mem::take(&mut touched))?;
                self.commit(w, last)?;
                seen = 0;
            }
        }
        if seen > 0 {
            self.reindex(w, store, &touched)?;
            self.commit(w, last)?;
        }
        Ok(())
    }

    /// Re-reads each person from the store: deleted by id, then added back if still present.
    /// Reading the current state (not the change's) makes replaying a change twice harmless.
    fn reindex(
        &self,
        w: &mut IndexWriter,
        store: &Store,
        ids: &BTreeSet<String>,
    ) -> Result<(), SearchError> {
        for id in ids {
            w.delete_term(Term::from_field_text(self.fields.id, id));
            if let Some(p) = store.person(id)? {
                let doc = self.document(store, &p)?;
                w.add_document(doc)?;
            }
        }
        Ok(())
    }

    /// Drops every document and indexes every person. `seq` is read before the scan, so changes
    /// made during it are replayed again later (harmlessly).
    ///
    /// The writer's threads leave a few segments; they are merged into one before returning,
    /// because a search walks every segment's term dictionary once per query term (a fuzzy
    /// term's automaton included), so one segment answers faster than four. Background merges
    /// are off meanwhile, so none competes for the same segments.
    fn rebuild(&self, w: &mut IndexWriter, store: &Store, seq: u64) -> Result<(), SearchError> {
        w.set_merge_policy(Box::new(tantivy::merge_policy::NoMergePolicy));
        let built = self.add_everyone(w, store, seq);
        if built.is_ok() {
            self.merge_all(w);
        }
        w.set_merge_policy(Box::new(tantivy::merge_policy::LogMergePolicy::default()));
        built
    }

    /// The rebuild proper: every person of the store, committed at `seq`. This thread scans the
    /// store; builders on every core turn people into documents (folding, prefixes, names: as
    /// much work as tantivy's own indexing threads do with them), so a rebuild keeps all cores
    /// busy instead of waiting on one.
    fn add_everyone(
        &self,
        w: &mut IndexWriter,
        store: &Store,
        seq: u64,
    ) -> Result<(), SearchError> {
        w.delete_all_documents()?;
        let builders = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4);
        let shared: &IndexWriter = w;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<crate::model::Person>>(builders * 2);
        let rx = Mutex::new(rx);
        let failed: Mutex<Option<SearchError>> = Mutex::new(None);
        let stop = std::sync::atomic::AtomicBool::new(false);
        let fail = |e: SearchError| {
            stop.store(true, Ordering::Release);
            failed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(e);
        };
        std::thread::scope(|s| {
            for _ in 0..builders {
                s.spawn(|| {
                    loop {
                        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok(batch) = next else { return };
                        // After a failure the batches are drained unread, so the scan never
                        // blocks on a full channel.
                        for p in batch {
                            if stop.load(Ordering::Acquire) {
                                break;
                            }
                            let added = self
                                .document(store, &p)
                                .and_then(|doc| shared.add_document(doc).map_err(Into::into));
                            if let Err(e) = added {
                                fail(e);
                            }
                        }
                    }
                });
            }
            let mut batch = Vec::with_capacity(REBUILD_BATCH);
            for p in store.people_after(None) {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                match p {
                    Ok(p) => batch.push(p),
                    Err(e) => {
                        fail(e.into());
                        break;
                    }
                }
                if batch.len() == REBUILD_BATCH
                    && tx
                        .send(std::mem::replace(
                            &mut batch,
                            Vec::with_capacity(REBUILD_BATCH),
                        ))
                        .is_err()
                {
                    break;
                }
            }
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            drop(tx);
        });
        if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        self.commit(w, seq)
    }

    /// Merges every committed segment into one. A failure only costs speed (the segments stay
    /// as they are), so it is logged, not returned. The merge keeps the commit payload.
    fn merge_all(&self, w: &mut IndexWriter) {
        let ids = match w.index().searchable_segment_ids() {
            Ok(ids) if ids.len() > 1 => ids,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!("cannot list the search index segments to merge them: {e}");
                return;
            }
        };
        if let Err(e) = w.merge(&ids).wait() {
            tracing::warn!(
                "merging the search index segments failed (searches stay correct, only slower): {e}"
            );
            return;
        }
        if let Err(e) = self.reader.reload() {
            tracing::warn!("cannot reload the search index after merging its segments: {e}");
        }
    }

    fn document(
        &self,
        store: &Store,
        p: &crate::model::Person,
    ) -> Result<TantivyDocument, SearchError> {
        let custom = if self.options.custom_attributes.is_empty() {
            Vec::new()
        } else {
            let raw = store.person_raw(&p.id)?;
            schema::custom_values(raw.as_ref(), &self.options.custom_attributes)
        };
        Ok(self.fields.document(p, &custom))
    }

    fn commit(&self, w: &mut IndexWriter, seq: u64) -> Result<(), SearchError> {
        let payload = serde_json::to_string(&Payload {
            version: schema::VERSION,
            seq,
            custom: self.options.custom_attributes.clone(),
        })
        .map_err(|e| SearchError::Index(e.to_string()))?;
        let mut prepared = w.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        self.reader.reload()?;
        self.seq.store(seq, Ordering::Release);
        Ok(())
    }

    /// Adds documents without committing, then drops them: what a crash between a store write
    /// and an index commit leaves behind. For the healing tests only.
    #[doc(hidden)]
    pub fn stage_uncommitted(&self, store: &Store) -> Result<(), SearchError> {
        let mut guard = self.lock_writer();
        let Some(w) = guard.as_mut() else {
            return Err(SearchError::Index("the index was closed".into()));
        };
        let ids: BTreeSet<String> = store
            .changes_after(self.indexed_seq())
            .filter_map(|c| match c.map(|c| c.entity) {
                Ok(Entity::Person { id }) => Some(id),
                _ => None,
            })
            .collect();
        self.reindex(w, store, &ids)
    }

    /// The best matches for `query` among the people `filter` lets through, `limit` of them
    /// after skipping `offset`.
    pub fn search(
        &self,
        query: &ParsedQuery,
        filter: &PersonFilter,
        offset: usize,
        limit: usize,
    ) -> Result<SearchResults, SearchError> {
        // Tantivy allocates the top-k heap up front: an unbounded offset (a forged cursor) would
        // ask for terabytes. Nobody pages 10,000 deep into people search.
        if offset > MAX_SEARCH_RESULTS || limit > MAX_SEARCH_RESULTS {
            return Err(SearchError::TooDeep {
                max: MAX_SEARCH_RESULTS,
            });
        }
        let Some(q) = query::build(&self.fields, query, filter) else {
            return Ok(SearchResults::default());
        };
        let searcher = self.reader.searcher();
        // The first RERANK_WINDOW matches are re-scored so each query word must match a
        // different word; the window is fixed, so pages never disagree about the order.
        let wanted = offset.saturating_add(limit).max(RERANK_WINDOW);
        let top = TopDocs::with_limit(wanted.max(1)).order_by_score();
        let (docs, total) = searcher.search(&q, &(top, Count))?;
        let mut ranked = Vec::with_capacity(docs.len());
        for (i, (score, addr)) in docs.into_iter().enumerate() {
            let in_window = i < RERANK_WINDOW;
            if !in_window && i < offset {
                continue;
            }
            let doc: TantivyDocument = searcher.doc(addr)?;
            let Some(id) = doc.get_first(self.fields.id).and_then(|v| v.as_str()) else {
                continue;
            };
            let mut score = score;
            if in_window && query.words.len() > 1 {
                let words = doc
                    .get_first(self.fields.stored_words)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                let words: Vec<&str> = words.split(' ').collect();
                let (loose, distinct) = query::word_scores(&query.words, &words);
                score += distinct - loose;
            }
            ranked.push((i, score, id.to_owned()));
        }
        let window = ranked
            .iter()
            .take_while(|(i, _, _)| *i < RERANK_WINDOW)
            .count();
        ranked[..window].sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        // `ranked` is the sorted window, then the matches from `offset` on (past the window).
        let hits = ranked
            .into_iter()
            .skip(offset.min(window))
            .take(limit)
            .map(|(_, score, id)| SearchHit { id, score })
            .collect();
        Ok(SearchResults { hits, total })
    }

    /// Counts by department, title, city and country code over every match (not one page).
    pub fn facets(
        &self,
        query: &ParsedQuery,
        filter: &PersonFilter,
    ) -> Result<Facets, SearchError> {
        let Some(q) = query::build(&self.fields, query, filter) else {
            return Ok(Facets::default());
        };
        let counts: FacetCounts = self.reader.searcher().search(&q, &FacetCollector)?;
        let [department, title, city, country_code, user_type] = counts.map(sorted);
        Ok(Facets {
            department,
            title,
            city,
            country_code,
            user_type,
        })
    }
}

/// Facet values by count (highest first), then by value.
fn sorted(counts: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}
