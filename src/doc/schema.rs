//! JSON Schema: compile once, validate many, report every error with its instance pointer and
//! schema path. (Being written.)
