"""Inter-process communication: typed messages and the channels that carry them."""

from __future__ import annotations

from .channel import Channel, open_channel

__all__ = ["Channel", "open_channel"]
