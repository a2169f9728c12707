//! The embedded state store on SQLite (being written).
