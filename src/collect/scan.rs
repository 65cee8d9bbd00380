//! Delivery configuration scan (placeholder replaced by the full scanner).
