//! Collectors: the only networked code. (Being written.)
