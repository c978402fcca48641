//! The three miRe2e models.
