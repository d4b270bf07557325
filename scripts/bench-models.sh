# The GGUF registry models the speed scripts measure, in table order; sourced by
# bench-compare.sh and bench-builds.sh so both tables list the same models.
MODELS=(smollm2-135m-instruct gemma-3-270m qwen2.5-coder-0.5b-instruct qwen2.5-coder-1.5b-instruct)
