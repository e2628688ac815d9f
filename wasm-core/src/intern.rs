//! Stream-name interner: during index rebuild each event's stream name becomes a small
//! number, so the host decodes every name once instead of once per event.
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use xxhash_rust::xxh3::Xxh3;

#[derive(Default)]
pub struct Interner {
    numbers: HashMap<Box<[u8]>, u32, BuildHasherDefault<Xxh3>>,
    names: Vec<Box<[u8]>>,
}

impl Interner {
    pub fn intern(&mut self, name: &[u8]) -> u32 {
        if let Some(&number) = self.numbers.get(name) {
            return number;
        }
        let number = self.names.len() as u32;
        self.names.push(name.into());
        self.numbers.insert(name.into(), number);
        number
    }

    pub fn name(&self, number: u32) -> Option<&[u8]> {
        self.names.get(number as usize).map(|name| &name[..])
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn clear(&mut self) {
        self.numbers.clear();
        self.names.clear();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn interns_once() {
        let mut interner = super::Interner::default();
        assert_eq!(interner.intern(b"a"), 0);
        assert_eq!(interner.intern(b"b"), 1);
        assert_eq!(interner.intern(b"a"), 0);
        assert_eq!(interner.name(1), Some(&b"b"[..]));
        assert_eq!(interner.len(), 2);
    }
}
