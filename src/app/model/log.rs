//! A bounded, scrollable list of rows, each with a stable id so a later event can update the
//! row it concerns in O(1), however many rows came in between.

use std::collections::VecDeque;

/// Rows kept per pane: a long session or a flood cannot grow memory without limit.
pub const MAX_ROWS: usize = 10_000;

/// Names one row for as long as it is kept: ids grow by one per row and are never reused.
pub type RowId = u64;

/// A bounded, scrollable list of rows: the newest at the back.
#[derive(Debug, Clone)]
pub struct Log<T> {
    rows: VecDeque<T>,
    /// The id of `rows[0]`.
    first_id: RowId,
    /// Rows between the newest and the bottom of the view; 0 = follow the newest.
    scroll_back: usize,
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Self {
            rows: VecDeque::new(),
            first_id: 0,
            scroll_back: 0,
        }
    }
}

impl<T> Log<T> {
    /// Appends a row, dropping the oldest beyond [`MAX_ROWS`], and returns its id. A
    /// scrolled-back view stays on the rows it shows instead of sliding under the reader's
    /// eyes.
    pub fn push(&mut self, row: T) -> RowId {
        if self.rows.len() == MAX_ROWS {
            self.rows.pop_front();
            self.first_id += 1;
        }
        self.rows.push_back(row);
        if self.scroll_back > 0 {
            self.scroll_back += 1;
        }
        self.first_id + self.rows.len() as RowId - 1
    }

    /// Every row kept, oldest first.
    pub fn rows(&self) -> &VecDeque<T> {
        &self.rows
    }

    /// The row `id`, unless it has been dropped since.
    pub fn get_mut(&mut self, id: RowId) -> Option<&mut T> {
        let index = id.checked_sub(self.first_id)?;
        self.rows.get_mut(usize::try_from(index).ok()?)
    }

    /// Forgets every row (ids keep growing, so old ids never match a new row).
    pub fn clear(&mut self) {
        self.first_id += self.rows.len() as RowId;
        self.rows.clear();
        self.scroll_back = 0;
    }

    /// How far back the view is, given that `page` rows fit: never so far that the oldest
    /// row would rise above the top of the pane and leave it part blank.
    pub fn scroll_back(&self, page: usize) -> usize {
        self.scroll_back.min(self.rows.len().saturating_sub(page))
    }

    /// Moves the view `delta` rows back in time (negative: towards the newest), `page` rows
    /// being what fits in the pane.
    pub fn scroll_by(&mut self, delta: isize, page: usize) {
        let from = self.scroll_back(page);
        self.scroll_back = from
            .saturating_add_signed(delta)
            .min(self.rows.len().saturating_sub(page));
    }

    /// The rows that fit in `page`, oldest first, honouring the scroll position.
    pub fn visible(&self, page: usize) -> impl DoubleEndedIterator<Item = &T> {
        let end = self.rows.len() - self.scroll_back(page);
        self.rows.range(end.saturating_sub(page)..end)
    }

    /// The rows up to the bottom of the view, newest first: for a pane whose rows take more
    /// than one line each, which stops when it is full.
    pub fn newest_in_view(&self, page: usize) -> impl Iterator<Item = &T> {
        let end = self.rows.len() - self.scroll_back(page);
        self.rows.range(..end).rev()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(n: usize) -> Log<usize> {
        let mut log = Log::default();
        for i in 0..n {
            log.push(i);
        }
        log
    }

    #[test]
    fn ids_find_rows_until_they_are_dropped() {
        let mut log = Log::default();
        let first = log.push("a");
        let second = log.push("b");
        assert_eq!(log.get_mut(second), Some(&mut "b"));
        for _ in 0..MAX_ROWS {
            log.push("x");
        }
        assert_eq!(log.get_mut(first), None);
        assert_eq!(log.get_mut(second), None);
        let last = log.push("z");
        assert_eq!(log.get_mut(last), Some(&mut "z"));
        log.clear();
        assert_eq!(log.get_mut(last), None);
        let new = log.push("new");
        assert_eq!(log.get_mut(new), Some(&mut "new"));
    }

    #[test]
    fn scrolling_to_the_oldest_shows_a_full_page() {
        let mut log = log_of(100);
        log.scroll_by(isize::MAX, 10);
        let shown: Vec<_> = log.visible(10).copied().collect();
        assert_eq!(shown, (0..10).collect::<Vec<_>>());
        // One page forward from the oldest page.
        log.scroll_by(-10, 10);
        let shown: Vec<_> = log.visible(10).copied().collect();
        assert_eq!(shown, (10..20).collect::<Vec<_>>());
        log.scroll_by(isize::MIN, 10);
        assert_eq!(log.scroll_back(10), 0);
        assert_eq!(log.visible(10).next(), Some(&90));
    }

    #[test]
    fn a_short_log_never_scrolls() {
        let mut log = log_of(5);
        log.scroll_by(10, 10);
        assert_eq!(log.scroll_back(10), 0);
        assert_eq!(log.visible(10).count(), 5);
    }

    #[test]
    fn a_scrolled_view_stays_on_its_rows_as_new_ones_arrive() {
        let mut log = log_of(100);
        log.scroll_by(20, 10);
        let before: Vec<_> = log.visible(10).copied().collect();
        log.push(100);
        let after: Vec<_> = log.visible(10).copied().collect();
        assert_eq!(before, after);
        assert_eq!(log.newest_in_view(10).next(), before.last());
    }
}
