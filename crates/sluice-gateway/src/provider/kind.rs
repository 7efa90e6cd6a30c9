//! The provider types Sluice knows, and what each implies by default: base
//! URL, the environment variables that enable it in zero-config mode, the
//! wire format it speaks, and how its models are addressed.

use serde::Deserialize;

/// The wire format a provider speaks. Decides which adapter is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI Chat Completions at `{base_url}/chat/completions`.
    OpenAi,
    /// Azure OpenAI deployment URLs with `api-version` and the `api-key` header.
    Azure,
    /// Anthropic Messages.
    Anthropic,
    /// Gemini `generateContent` on AI Studio (API key).
    Gemini,
    /// Gemini `generateContent` on Vertex AI (service-account token).
    Vertex,
    /// AWS Bedrock Converse / ConverseStream (SigV4).
    Bedrock,
    /// Cohere v2 chat, embed and rerank.
    Cohere,
    /// Hugging Face serverless inference / TGI.
    HuggingFace,
    /// Replicate predictions.
    Replicate,
}

/// A provider type, as written in `providers.<name>.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Openai,
    Azure,
    Anthropic,
    Gemini,
    Vertex,
    Bedrock,
    Cohere,
    Huggingface,
    Replicate,
    Deepseek,
    Mistral,
    Groq,
    Together,
    Fireworks,
    Openrouter,
    Xai,
    Ollama,
    Vllm,
    Llamacpp,
    Lmstudio,
    /// Any other server that speaks the OpenAI wire format; `base_url` required.
    OpenaiCompatible,
}

impl ProviderKind {
    /// Every kind, in the order start-up messages list them.
    pub const ALL: &'static [ProviderKind] = &[
        Self::Openai,
        Self::Azure,
        Self::Anthropic,
        Self::Gemini,
        Self::Vertex,
        Self::Bedrock,
        Self::Cohere,
        Self::Huggingface,
        Self::Replicate,
        Self::Deepseek,
        Self::Mistral,
        Self::Groq,
        Self::Together,
        Self::Fireworks,
        Self::Openrouter,
        Self::Xai,
        Self::Ollama,
        Self::Vllm,
        Self::Llamacpp,
        Self::Lmstudio,
        Self::OpenaiCompatible,
    ];

    /// The name used in config files and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Azure => "azure",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Vertex => "vertex",
            Self::Bedrock => "bedrock",
            Self::Cohere => "cohere",
            Self::Huggingface => "huggingface",
            Self::Replicate => "replicate",
            Self::Deepseek => "deepseek",
            Self::Mistral => "mistral",
            Self::Groq => "groq",
            Self::Together => "together",
            Self::Fireworks => "fireworks",
            Self::Openrouter => "openrouter",
            Self::Xai => "xai",
            Self::Ollama => "ollama",
            Self::Vllm => "vllm",
            Self::Llamacpp => "llamacpp",
            Self::Lmstudio => "lmstudio",
            Self::OpenaiCompatible => "openai_compatible",
        }
    }

    /// The wire format.
    pub fn wire(self) -> Wire {
        match self {
            Self::Azure => Wire::Azure,
            Self::Anthropic => Wire::Anthropic,
            Self::Gemini => Wire::Gemini,
            Self::Vertex => Wire::Vertex,
            Self::Bedrock => Wire::Bedrock,
            Self::Cohere => Wire::Cohere,
            Self::Huggingface => Wire::HuggingFace,
            Self::Replicate => Wire::Replicate,
            _ => Wire::OpenAi,
        }
    }

    /// The base URL used when the config gives none. Vertex and Bedrock
    /// derive theirs from `location` / `region` instead.
    pub fn default_base_url(self) -> Option<&'static str> {
        Some(match self {
            Self::Openai => "https://api.openai.com/v1",
            Self::Anthropic => "https://api.anthropic.com",
            Self::Gemini => "https://generativelanguage.googleapis.com",
            Self::Cohere => "https://api.cohere.com",
            Self::Huggingface => "https://router.huggingface.co/v1",
            Self::Replicate => "https://api.replicate.com/v1",
            Self::Deepseek => "https://api.deepseek.com/v1",
            Self::Mistral => "https://api.mistral.ai/v1",
            Self::Groq => "https://api.groq.com/openai/v1",
            Self::Together => "https://api.together.xyz/v1",
            Self::Fireworks => "https://api.fireworks.ai/inference/v1",
            Self::Openrouter => "https://openrouter.ai/api/v1",
            Self::Xai => "https://api.x.ai/v1",
            Self::Ollama => "http://127.0.0.1:11434/v1",
            Self::Vllm => "http://127.0.0.1:8000/v1",
            Self::Llamacpp => "http://127.0.0.1:8081/v1",
            Self::Lmstudio => "http://127.0.0.1:1234/v1",
            Self::Azure | Self::Vertex | Self::Bedrock | Self::OpenaiCompatible => return None,
        })
    }

    /// The standard environment variable holding this provider's key.
    pub fn key_env(self) -> Option<&'static str> {
        Some(match self {
            Self::Openai => "OPENAI_API_KEY",
            Self::Azure => "AZURE_OPENAI_API_KEY",
            Self::Anthropic => "ANTHROPIC_API_KEY",
            Self::Gemini => "GEMINI_API_KEY",
            Self::Vertex => "GOOGLE_APPLICATION_CREDENTIALS",
            Self::Bedrock => "AWS_ACCESS_KEY_ID",
            Self::Cohere => "COHERE_API_KEY",
            Self::Huggingface => "HF_TOKEN",
            Self::Replicate => "REPLICATE_API_TOKEN",
            Self::Deepseek => "DEEPSEEK_API_KEY",
            Self::Mistral => "MISTRAL_API_KEY",
            Self::Groq => "GROQ_API_KEY",
            Self::Together => "TOGETHER_API_KEY",
            Self::Fireworks => "FIREWORKS_API_KEY",
            Self::Openrouter => "OPENROUTER_API_KEY",
            Self::Xai => "XAI_API_KEY",
            Self::Ollama
            | Self::Vllm
            | Self::Llamacpp
            | Self::Lmstudio
            | Self::OpenaiCompatible => {
                return None;
            }
        })
    }

    /// The environment variable that overrides the base URL in zero-config
    /// mode, and (for local servers) enables the provider at all.
    pub fn base_url_env(self) -> &'static str {
        match self {
            Self::Openai => "OPENAI_BASE_URL",
            Self::Azure => "AZURE_OPENAI_ENDPOINT",
            Self::Anthropic => "ANTHROPIC_BASE_URL",
            Self::Gemini => "GEMINI_BASE_URL",
            Self::Vertex => "VERTEX_BASE_URL",
            Self::Bedrock => "BEDROCK_BASE_URL",
            Self::Cohere => "COHERE_BASE_URL",
            Self::Huggingface => "HF_BASE_URL",
            Self::Replicate => "REPLICATE_BASE_URL",
            Self::Deepseek => "DEEPSEEK_BASE_URL",
            Self::Mistral => "MISTRAL_BASE_URL",
            Self::Groq => "GROQ_BASE_URL",
            Self::Together => "TOGETHER_BASE_URL",
            Self::Fireworks => "FIREWORKS_BASE_URL",
            Self::Openrouter => "OPENROUTER_BASE_URL",
            Self::Xai => "XAI_BASE_URL",
            Self::Ollama => "OLLAMA_BASE_URL",
            Self::Vllm => "VLLM_BASE_URL",
            Self::Llamacpp => "LLAMACPP_BASE_URL",
            Self::Lmstudio => "LMSTUDIO_BASE_URL",
            Self::OpenaiCompatible => "OPENAI_COMPATIBLE_BASE_URL",
        }
    }

    /// Whether an `api_key` is required to use this provider. Vertex and
    /// Bedrock authenticate with their own credential fields instead.
    pub fn needs_key(self) -> bool {
        self.key_env().is_some() && !matches!(self, Self::Vertex | Self::Bedrock)
    }

    /// Whether this is a server on the user's own machine or network.
    pub fn is_local(self) -> bool {
        matches!(
            self,
            Self::Ollama | Self::Vllm | Self::Llamacpp | Self::Lmstudio
        )
    }

    /// Bare model-name patterns routed to this provider in zero-config mode,
    /// besides the always-present `<provider>/*`.
    pub fn bare_model_patterns(self) -> &'static [&'static str] {
        match self {
            Self::Openai => &[
                "gpt-*",
                "o1*",
                "o3*",
                "o4*",
                "chatgpt-*",
                "text-embedding-*",
            ],
            Self::Anthropic => &["claude-*"],
            Self::Gemini => &["gemini-*", "text-embedding-004", "gemini-embedding-*"],
            Self::Cohere => &["command-*", "embed-*", "rerank-*"],
            Self::Deepseek => &["deepseek-*"],
            Self::Mistral => &[
                "mistral-*",
                "codestral-*",
                "magistral-*",
                "pixtral-*",
                "ministral-*",
                "open-mistral-*",
            ],
            Self::Xai => &["grok-*"],
            _ => &[],
        }
    }
}
