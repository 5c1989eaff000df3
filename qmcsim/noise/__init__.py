"""Device noise on stored weights: MLC level errors (levels, mapping), Monte-Carlo injection
(inject) and the QMC study's noise-aware scale search (scale_search). numpy only."""
