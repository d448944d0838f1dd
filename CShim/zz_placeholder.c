/* Removed once the real sources land. */
int og_placeholder(void);
int og_placeholder(void) { return 0; }
