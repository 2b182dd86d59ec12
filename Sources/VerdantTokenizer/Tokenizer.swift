// Placeholder so the module builds; replaced by the tokenizer implementation.
public enum VerdantTokenizerModule {}
