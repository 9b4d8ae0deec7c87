"""Result schema, store and statistics."""
