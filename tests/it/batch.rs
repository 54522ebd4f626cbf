//! batch tests
