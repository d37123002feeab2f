//! A tantivy collector counting the values of the facet fields (department, title, city,
//! countryCode, user type) over every document that matches a search, not only the page returned.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::schema::FACET_FIELDS;

/// Counts per value for each facet field, in `FACET_FIELDS` order.
pub type FacetCounts = [HashMap<String, u64>; 5];

pub struct FacetCollector;

pub struct FacetSegment {
    columns: Vec<Option<StrColumn>>,
    /// Per field, per term ordinal of this segment, how many matching documents hold it.
    counts: Vec<HashMap<u64, u64>>,
}

impl Collector for FacetCollector {
    type Fruit = FacetCounts;
    type Child = FacetSegment;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<FacetSegment> {
        let ff = segment.fast_fields();
        let columns = FACET_FIELDS
            .iter()
            .map(|name| ff.str(name))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(FacetSegment {
            counts: vec![HashMap::new(); columns.len()],
            columns,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FacetCounts>) -> tantivy::Result<FacetCounts> {
        let mut out: FacetCounts = Default::default();
        for fruit in fruits {
            for (into, from) in out.iter_mut().zip(fruit) {
                for (value, n) in from {
                    *into.entry(value).or_default() += n;
                }
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = FacetCounts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        for (column, counts) in self.columns.iter().zip(&mut self.counts) {
            if let Some(column) = column {
                for ord in column.term_ords(doc) {
                    *counts.entry(ord).or_default() += 1;
                }
            }
        }
    }

    fn harvest(self) -> FacetCounts {
        let mut out: FacetCounts = Default::default();
        for ((column, counts), into) in self.columns.iter().zip(self.counts).zip(out.iter_mut()) {
            let Some(column) = column else { continue };
            let mut value = String::new();
            for (ord, n) in counts {
                value.clear();
                // An ordinal always resolves within its own segment; a miss is skipped.
                if column.ord_to_str(ord, &mut value).unwrap_or(false) {
                    *into.entry(value.clone()).or_default() += n;
                }
            }
        }
        out
    }
}
