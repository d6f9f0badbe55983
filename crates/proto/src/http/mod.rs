//! HTTP/1.1 request head parsing and responses — in progress.
