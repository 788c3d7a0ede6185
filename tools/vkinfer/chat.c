/* Chat templates for a single user turn, as each family publishes them
 * (the GGUF's tokenizer.chat_template is Jinja; these are its one-turn
 * expansions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkinfer.h"

char *vk_chat_prompt(const ei_model_config *c, const char *prompt, int llama3) {
    const char *before, *after;
    switch (c->arch) {
    case EI_ARCH_GEMMA3:
        before = "<start_of_turn>user\n";
        after = "<end_of_turn>\n<start_of_turn>model\n";
        break;
    case EI_ARCH_QWEN2:
    case EI_ARCH_QWEN3:
        before = "<|im_start|>user\n";
        after = "<|im_end|>\n<|im_start|>assistant\n";
        break;
    default:
        before = llama3 ? "<|start_header_id|>user<|end_header_id|>\n\n" : "[INST] ";
        after = llama3 ? "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" : " [/INST]";
        break;
    }
    size_t n = strlen(before) + strlen(prompt) + strlen(after) + 1;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s%s%s", before, prompt, after);
    return out;
}
