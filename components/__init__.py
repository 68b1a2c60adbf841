"""Components of the private registry program; see DESIGN.md §2-3 for the graph."""
