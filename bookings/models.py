"""Bookings models."""
