package io.streamfeed.example;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.Decoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Publishes activity and follow events to streamfeed the way any service outside Python would.
 *
 * <p>It follows the producer contract in schemas/README.md: the schema files parsed in their
 * load order, Avro single-object encoding (what {@link BinaryMessageEncoder} writes), the
 * activities topic keyed by the actor id and the follows topic keyed by the follower, Kafka's
 * default partitioner.
 *
 * <p>Usage: {@code AvroProducer BOOTSTRAP ACTIVITIES_TOPIC FOLLOWS_TOPIC SCHEMA_DIR EVENTS_FILE},
 * where each line of EVENTS_FILE is {@code activity} or {@code follow}, a space, and the event in
 * Avro's JSON encoding. Exits non-zero if any event is not acknowledged by the brokers.
 */
public final class AvroProducer {

  /** Each schema after the ones it names: Avro's parser resolves references to earlier types. */
  static final List<String> LOAD_ORDER =
      List.of(
          "io.streamfeed.ActivityOp",
          "io.streamfeed.FollowOp",
          "io.streamfeed.Activity",
          "io.streamfeed.ActivityEvent",
          "io.streamfeed.FollowEvent");

  private AvroProducer() {}

  static Map<String, Schema> loadSchemas(Path directory) throws IOException {
    Schema.Parser parser = new Schema.Parser();
    Map<String, Schema> schemas = new LinkedHashMap<>();
    for (String name : LOAD_ORDER) {
      schemas.put(name, parser.parse(new File(directory.toFile(), name + ".avsc")));
    }
    return schemas;
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 5) {
      System.err.println(
          "usage: AvroProducer BOOTSTRAP ACTIVITIES_TOPIC FOLLOWS_TOPIC SCHEMA_DIR EVENTS_FILE");
      System.exit(2);
    }
    Map<String, Schema> schemas = loadSchemas(Path.of(args[3]));
    Schema activityEvent = schemas.get("io.streamfeed.ActivityEvent");
    Schema followEvent = schemas.get("io.streamfeed.FollowEvent");
    BinaryMessageEncoder<GenericRecord> activities =
        new BinaryMessageEncoder<>(GenericData.get(), activityEvent);
    BinaryMessageEncoder<GenericRecord> follows =
        new BinaryMessageEncoder<>(GenericData.get(), followEvent);

    Properties config = new Properties();
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    config.put(ProducerConfig.ACKS_CONFIG, "all");
    config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
    config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);

    List<Future<RecordMetadata>> sent = new ArrayList<>();
    int activityCount = 0;
    int followCount = 0;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(config);
        BufferedReader lines = Files.newBufferedReader(Path.of(args[4]), StandardCharsets.UTF_8)) {
      String line;
      while ((line = lines.readLine()) != null) {
        if (line.isBlank()) {
          continue;
        }
        int space = line.indexOf(' ');
        String kind = line.substring(0, space);
        String json = line.substring(space + 1);
        ProducerRecord<byte[], byte[]> record;
        if (kind.equals("activity")) {
          GenericRecord event = read(activityEvent, json);
          String actor = ((GenericRecord) event.get("activity")).get("actor").toString();
          record = new ProducerRecord<>(args[1], utf8(actor), bytes(activities.encode(event)));
          activityCount++;
        } else if (kind.equals("follow")) {
          GenericRecord event = read(followEvent, json);
          String follower = event.get("follower").toString();
          record = new ProducerRecord<>(args[2], utf8(follower), bytes(follows.encode(event)));
          followCount++;
        } else {
          throw new IllegalArgumentException("line kind must be activity or follow: " + kind);
        }
        sent.add(producer.send(record));
      }
      producer.flush();
    }
    for (Future<RecordMetadata> future : sent) {
      future.get(); // throws if the brokers refused it
    }
    System.out.printf("sent %d activities and %d follows%n", activityCount, followCount);
  }

  static GenericRecord read(Schema schema, String json) throws IOException {
    Decoder decoder = DecoderFactory.get().jsonDecoder(schema, json);
    return new GenericDatumReader<GenericRecord>(schema).read(null, decoder);
  }

  static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] bytes(ByteBuffer buffer) {
    byte[] out = new byte[buffer.remaining()];
    buffer.get(out);
    return out;
  }
}
