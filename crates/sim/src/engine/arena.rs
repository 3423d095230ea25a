//! A typed arena: entities live in one `Vec` and freed slots are reused through a free list, so
//! creating a visit, call or request never allocates once the arena has grown to the working
//! set, and entities are named by `u32` indices that fit in events.

/// An arena of `T`.
#[derive(Debug)]
pub(crate) struct Arena<T> {
    items: Vec<T>,
    free: Vec<u32>,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena {
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Arena<T> {
    /// Stores `value`, reusing a freed slot when there is one, and returns its index.
    #[inline]
    pub fn alloc(&mut self, value: T) -> u32 {
        if let Some(i) = self.free.pop() {
            self.items[i as usize] = value;
            i
        } else {
            self.items.push(value);
            (self.items.len() - 1) as u32
        }
    }

    /// Marks slot `i` free. The caller must not use `i` again until `alloc` returns it.
    #[inline]
    pub fn release(&mut self, i: u32) {
        self.free.push(i);
    }

    /// All slots, live or free (callers tell them apart by a state field).
    pub fn all(&self) -> &[T] {
        &self.items
    }

    /// Slot `i`.
    #[inline]
    pub fn get(&self, i: u32) -> &T {
        &self.items[i as usize]
    }

    /// Slot `i`, mutably.
    #[inline]
    pub fn get_mut(&mut self, i: u32) -> &mut T {
        &mut self.items[i as usize]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reuses_freed_slots() {
        let mut a = super::Arena::default();
        let x = a.alloc(1);
        let y = a.alloc(2);
        a.release(x);
        let z = a.alloc(3);
        assert_eq!(z, x);
        assert_eq!(*a.get(y), 2);
        assert_eq!(*a.get(z), 3);
        assert_eq!(a.all().len(), 2);
    }
}
