"""Seed the known AI crawlers and scraping tools (what settings.ACCESS_SCRAPER_USER_AGENTS
held, plus the AI crawlers robots.txt should name). Admins edit the rows afterwards."""

from django.db import migrations

AI_TRAINING = [
    ("GPTBot", "OpenAI"),
    ("ClaudeBot", "Anthropic"),
    ("anthropic-ai", "Anthropic"),
    ("CCBot", "Common Crawl"),
    ("Google-Extended", "Google"),
    ("Applebot-Extended", "Apple"),
    ("Bytespider", "ByteDance"),
    ("Meta-ExternalAgent", "Meta"),
    ("FacebookBot", "Meta"),
    ("Amazonbot", "Amazon"),
    ("cohere-ai", "Cohere"),
    ("cohere-training-data-crawler", "Cohere"),
    ("AI2Bot", "Allen Institute for AI"),
    ("Diffbot", "Diffbot"),
    ("omgili", "Webz.io"),
    ("ImagesiftBot", "ImageSift"),
    ("PanguBot", "Huawei"),
    ("Timpibot", "Timpi"),
]
AI_ASSISTANT = [
    ("ChatGPT-User", "OpenAI"),
    ("OAI-SearchBot", "OpenAI"),
    ("Claude-Web", "Anthropic"),
    ("Claude-User", "Anthropic"),
    ("Claude-SearchBot", "Anthropic"),
    ("PerplexityBot", "Perplexity"),
    ("Perplexity-User", "Perplexity"),
    ("Meta-ExternalFetcher", "Meta"),
    ("MistralAI-User", "Mistral AI"),
    ("DuckAssistBot", "DuckDuckGo"),
]
# Tools, not crawlers: they do not read robots.txt (Scrapy does, by default).
SCRAPERS = [
    ("Scrapy", True),
    ("python-requests", False),
    ("python-urllib", False),
    ("aiohttp", False),
    ("httpx", False),
    ("curl/", False),
    ("wget/", False),
    ("Go-http-client", False),
    ("okhttp", False),
    ("Java/", False),
    ("libwww-perl", False),
    ("node-fetch", False),
    ("axios/", False),
    ("HeadlessChrome", False),
]


def seed(apps, schema_editor):
    CrawlerAgent = apps.get_model("access", "CrawlerAgent")
    rows = [
        CrawlerAgent(token=token, operator=operator, purpose="ai-training")
        for token, operator in AI_TRAINING
    ]
    rows += [
        CrawlerAgent(token=token, operator=operator, purpose="ai-assistant")
        for token, operator in AI_ASSISTANT
    ]
    rows += [
        CrawlerAgent(token=token, purpose="scraper", in_robots_txt=in_robots)
        for token, in_robots in SCRAPERS
    ]
    CrawlerAgent.objects.bulk_create(rows, ignore_conflicts=True)


def unseed(apps, schema_editor):
    CrawlerAgent = apps.get_model("access", "CrawlerAgent")
    tokens = [token for token, _ in AI_TRAINING + AI_ASSISTANT + SCRAPERS]
    CrawlerAgent.objects.filter(token__in=tokens).delete()


class Migration(migrations.Migration):
    dependencies = [("access", "0010_crawler_agents")]

    operations = [migrations.RunPython(seed, unseed)]
