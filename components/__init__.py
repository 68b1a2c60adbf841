"""Components of the private registry program; docs/design.md draws the graph they form."""
