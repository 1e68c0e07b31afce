//! The batching queue behind both the leader's proposer and the client's
//! coalescer: items are drained in batches, with at most `slots` batches
//! out at once.
//!
//! [`BatchQueue::next`] waits for an item, then for a free slot — and while
//! it waits for the slot, more items queue up, which is what makes batches
//! under load without ever delaying an item that finds a slot free. A batch
//! takes queued items in order until it holds `max_items`, would exceed
//! `max_bytes` (a single larger item still goes, alone), or meets an item
//! that [`Batchable::joins`] refuses; that item starts the next batch.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// What a [`BatchQueue`] needs to know of an item.
pub(crate) trait Batchable {
    /// The item's size, counted against `max_bytes`.
    fn bytes(&self) -> usize;
    /// Whether the item may go in a batch that starts with `first`.
    fn joins(&self, _first: &Self) -> bool {
        true
    }
}

/// See the [module documentation](self).
pub(crate) struct BatchQueue<T> {
    rx: mpsc::UnboundedReceiver<T>,
    slots: Arc<Semaphore>,
    /// An item taken from the queue that did not fit the previous batch.
    carried: Option<T>,
    max_items: usize,
    max_bytes: usize,
}

impl<T: Batchable> BatchQueue<T> {
    pub fn new(
        rx: mpsc::UnboundedReceiver<T>,
        slots: usize,
        max_items: usize,
        max_bytes: usize,
    ) -> BatchQueue<T> {
        BatchQueue {
            rx,
            slots: Arc::new(Semaphore::new(slots.max(1))),
            carried: None,
            max_items: max_items.max(1),
            max_bytes,
        }
    }

    /// The next batch and the slot it holds until the permit is dropped;
    /// `None` once every sender is gone and nothing is left.
    pub async fn next(&mut self) -> Option<(OwnedSemaphorePermit, Vec<T>)> {
        let first = match self.carried.take() {
            Some(first) => first,
            None => self.rx.recv().await?,
        };
        let slot = self.slots.clone().acquire_owned().await.ok()?;
        let mut bytes = first.bytes();
        let mut batch = vec![first];
        while batch.len() < self.max_items {
            let Ok(next) = self.rx.try_recv() else {
                break;
            };
            if !next.joins(&batch[0]) || bytes + next.bytes() > self.max_bytes {
                self.carried = Some(next);
                break;
            }
            bytes += next.bytes();
            batch.push(next);
        }
        Some((slot, batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Item(usize, char);

    impl Batchable for Item {
        fn bytes(&self) -> usize {
            self.0
        }
        fn joins(&self, first: &Self) -> bool {
            self.1 == first.1
        }
    }

    #[tokio::test]
    async fn batches_respect_counts_bytes_and_kinds_and_keep_order() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut queue = BatchQueue::new(rx, 4, 3, 10);
        for item in [
            (1, 'a'),
            (1, 'a'),
            (1, 'a'),
            (1, 'a'),
            (9, 'a'),
            (1, 'b'),
            (20, 'b'),
        ] {
            tx.send(Item(item.0, item.1)).unwrap();
        }
        drop(tx);
        let mut sizes = Vec::new();
        let mut slots = Vec::new();
        while let Some((slot, batch)) = queue.next().await {
            sizes.push(batch.iter().map(|i| (i.0, i.1)).collect::<Vec<_>>());
            slots.push(slot);
        }
        assert_eq!(
            sizes,
            vec![
                vec![(1, 'a'), (1, 'a'), (1, 'a')], // at most 3 items
                vec![(1, 'a'), (9, 'a')],           // 10 bytes fit
                vec![(1, 'b')],                     // 'b' starts anew; 21 bytes do not fit
                vec![(20, 'b')],                    // larger than the limit, alone
            ]
        );
    }

    #[tokio::test]
    async fn a_batch_waits_for_a_free_slot_and_gathers_meanwhile() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut queue = BatchQueue::new(rx, 1, 100, 100);
        tx.send(Item(1, 'a')).unwrap();
        let (slot, first) = queue.next().await.unwrap();
        assert_eq!(first.len(), 1);
        // While the only slot is taken, three more arrive...
        for _ in 0..3 {
            tx.send(Item(1, 'a')).unwrap();
        }
        drop(slot);
        // ...and leave together.
        let (_slot, second) = queue.next().await.unwrap();
        assert_eq!(second.len(), 3);
    }
}
