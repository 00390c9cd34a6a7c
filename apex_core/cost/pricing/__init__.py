"""Stage 2a: exact prices of usage with genai-prices (rate cards per model, day and policy)."""
