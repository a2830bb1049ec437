"""The one additive attention-mask constant shared by the reference models.

Who may call: the model modules (MiniLM pad mask, Llama causal mask) and the
compiler, which must map this value into the softmax input range.
"""

# Added (negated) to the attention score of every key a query must not see.
# Finite on purpose: -inf has no fixed-point encoding. exp(-10000) is exactly
# 0 in float32, and after the softmax's max-subtraction any fixed-point exp
# with a bounded input range saturates it to 0 as well.
MASK_PENALTY = 10000.0
