"""A shopping cart: lines of items with prices and quantities."""

from __future__ import annotations

from dataclasses import dataclass, field

from .money import ZERO, Money


@dataclass
class Line:
    name: str
    price: Money
    quantity: int = 1

    def total(self) -> Money:
        return self.price.times(self.quantity)


@dataclass
class Cart:
    lines: list[Line] = field(default_factory=list)

    def add(self, name: str, price: Money, quantity: int = 1) -> None:
        self.lines.append(Line(name, price, quantity))

