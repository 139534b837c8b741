"""A reservoir of the sampler's past samples, as extra negatives for the EBM step.

Not in the reference. The EBM step only raises the energy where the sampler is now; as the
sampler approaches the data, the energy can forget what the sampler's coarser early samples
taught it. Drawing part of each step's negatives from a uniform sample of everything the
sampler produced so far keeps those regions high (reservoir sampling, Vitter's algorithm R:
after n samples each of them is in the buffer with probability size / n).
"""

from __future__ import annotations

import torch


class ReplayBuffer:
    """A uniform sample (at most `size` rows) of every row passed to `add`."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"replay size must be at least 1, got {size}")
        self.size = size
        self.seen = 0  # rows offered so far
        self.rows: torch.Tensor | None = None  # (size, ...) once the first rows arrive

    def __len__(self) -> int:
        return min(self.seen, self.size)

    def add(self, x: torch.Tensor, generator: torch.Generator) -> None:
        """Offer the rows of `x`; the i-th of all rows ever offered is kept with p = size / i."""
        x = x.detach()
        if self.rows is None:
            self.rows = x.new_empty((self.size, *x.shape[1:]))
        n = self.seen + torch.arange(len(x), device=x.device)  # 0-based global index
        # slot n while filling, else a uniform slot in [0, n] (kept only if it is < size)
        draw = (torch.rand(len(x), generator=generator, device=x.device) * (n + 1)).long()
        slot = torch.where(n < self.size, n, draw)
        keep = slot < self.size
        self.rows[slot[keep]] = x[keep]
        self.seen += len(x)

    def sample(self, k: int, generator: torch.Generator) -> torch.Tensor:
        """k rows drawn uniformly (with replacement) from the buffer."""
        if len(self) == 0 or self.rows is None:
            raise ValueError("the replay buffer is empty")
        idx = torch.randint(len(self), (k,), generator=generator, device=self.rows.device)
        return self.rows[idx]

    def state_dict(self) -> dict:
        state: dict = {"seen": self.seen}
        if self.rows is not None and len(self) > 0:
            state["rows"] = self.rows[: len(self)].detach().cpu().clone()
        return state

    def load_state_dict(self, state: dict, device: torch.device | str = "cpu") -> None:
        self.seen = int(state["seen"])
        self.rows = None
        if "rows" in state:
            rows = state["rows"].to(device)
            self.rows = rows.new_empty((self.size, *rows.shape[1:]))
            self.rows[: len(rows)] = rows
