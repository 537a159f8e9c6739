"""One detector per failure mode of the seed's table. Each module has `MODE` (the seed's row) and
`detect(evidence) -> list[Finding]`: at least one finding, "cannot tell" (saying which run would tell)
when the scope holds nothing it can read."""
